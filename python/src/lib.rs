//! The `floe` Python package's native module, `floe._floe`: the upsert writer
//! (`writer`), the table maintenance functions (`maintenance`), Arrow data from Python
//! (`input`), the exceptions (`errors`) and the runtime that runs without the GIL
//! (`runtime`). `floe/__init__.py` re-exports it; `floe/_floe.pyi` documents it.

mod errors;
mod input;
mod maintenance;
mod runtime;
mod writer;

use pyo3::prelude::*;

#[pymodule]
fn _floe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<writer::PyUpsertWriter>()?;
    m.add_class::<writer::CommitResult>()?;
    m.add_function(wrap_pyfunction!(maintenance::compact, m)?)?;
    m.add_function(wrap_pyfunction!(maintenance::convert_deletes, m)?)?;
    m.add_function(wrap_pyfunction!(maintenance::expire_snapshots, m)?)?;
    m.add_function(wrap_pyfunction!(maintenance::table_info, m)?)?;
    m.add("FloeError", py.get_type::<errors::FloeError>())?;
    m.add("InputError", py.get_type::<errors::InputError>())?;
    m.add(
        "CommitConflictError",
        py.get_type::<errors::CommitConflictError>(),
    )?;
    m.add(
        "CommitStateUnknownError",
        py.get_type::<errors::CommitStateUnknownError>(),
    )?;
    Ok(())
}
