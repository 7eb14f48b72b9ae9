//! Publishing domain events to the EventBridge bus.
