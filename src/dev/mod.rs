//! Developer tools that never run in the function: signing sample events.

pub mod sample_events;
