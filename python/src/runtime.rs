//! The package's one tokio runtime. Callers run it inside `Python::detach`, so other
//! Python threads go on while Rust writes, commits or compacts.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("floe")
            .build()
            .expect("a tokio runtime")
    })
}

/// Runs `future` to its end on the runtime. Call it without the GIL.
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}
