//! TEMPORARY wiring stub, replaced by the ArgoCD parser branch before submission.
use super::{IngestError, Normalized};
pub fn normalize_argocd(body: &[u8]) -> Result<Normalized, IngestError> {
    super::parse_body(body)?;
    Ok(Normalized::Ignored("unsupported event"))
}
