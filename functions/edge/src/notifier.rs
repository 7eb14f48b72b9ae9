//! The notifier: events from the bus → the routed channels' chat messages.
