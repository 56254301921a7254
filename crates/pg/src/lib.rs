/*!
domgen's PostgreSQL side (work in progress; see the module list).
*/

#![deny(missing_docs)]

pub mod campaign;
mod connect;
pub mod copy;
mod error;
pub mod migrate;
pub mod monitor;
pub mod workers;

pub use crate::connect::connect;
pub use crate::error::{Error, ErrorKind};
