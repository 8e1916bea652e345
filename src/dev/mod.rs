//! Developer tools that never run in the function (feature `dev-tools`): signing sample
//! events, and the entry points of the fuzz targets and property tests.

pub mod fuzzing;
pub mod sample_events;
