//! Training: the device-agnostic loop ([`session`]), every setting in one table
//! ([`settings`]), learning-rate schedules ([`schedule`]), the run directory's log and
//! loss plot ([`runlog`], [`plot`]) and the gradient-flow records ([`gradflow`]).

pub mod gradflow;
pub mod plot;
pub mod runlog;
pub mod schedule;
pub mod session;
pub mod setup;
pub mod settings;
