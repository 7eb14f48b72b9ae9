//! Routed notifications: which configured channels an event goes to, and the chat messages a
//! channel gets for a group of events.
