//! A local EventBridge `PutEvents` endpoint.
