//! TEMPORARY wiring stub, replaced by the GitLab parser branch before submission.
use super::{IngestError, Normalized};
pub fn normalize_gitlab(
    _event: &str,
    _delivery: &str,
    body: &[u8],
) -> Result<Normalized, IngestError> {
    super::parse_body(body)?;
    Ok(Normalized::Ignored("unsupported event"))
}
