//! The module's integer constants: the platform's values, generated at build time
//! (`crate::socket::constants`).

use pyo3::prelude::*;

use crate::socket::constants::CONSTANTS;

/// Adds the constants to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("has_ipv6", true)?;
    for (name, value) in CONSTANTS {
        m.add(*name, *value)?;
    }
    Ok(())
}
