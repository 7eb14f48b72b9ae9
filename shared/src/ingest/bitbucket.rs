//! TEMPORARY wiring stub, replaced by the Bitbucket parser branch before submission.
use super::{IngestError, Normalized};
pub fn normalize_bitbucket(
    _event_key: &str,
    _delivery: &str,
    body: &[u8],
) -> Result<Normalized, IngestError> {
    super::parse_body(body)?;
    Ok(Normalized::Ignored("unsupported event"))
}
