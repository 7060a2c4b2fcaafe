//! The PyO3 layer: `netcore._netcore`. Conversion only; every behaviour lives in the core.

mod address;
mod client;
mod deploy;
mod errors;
mod gil;
mod handlers;
mod resolve;
mod server;
mod socket;
mod url;
mod url_face;

use pyo3::prelude::*;

/// Runs the `netcore` command line (for `python -m netcore`); returns its exit code.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    let code = gil::detach(py, || crate::cli::main(argv));
    // `netcore serve` handles Ctrl+C itself (a clean stop); Python saw the signal too and
    // must not raise it again once the command is done.
    match py.check_signals() {
        Err(e) if !e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) => Err(e),
        _ => Ok(code),
    }
}

#[pymodule]
fn _netcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    gil::init(m)?;
    m.add("__version__", crate::VERSION)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    resolve::register(m)?;
    socket::register(m)?;
    server::register(m)?;
    client::register(m)?;
    Ok(())
}
