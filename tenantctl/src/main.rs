//! `tenantctl`: see [`tenantctl::run`]. A current-thread runtime: one request at a time,
//! and the quickest start.

use std::process::ExitCode;

fn main() -> ExitCode {
    // A bug is reported in one line, never as a stack trace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: tenantctl failed unexpectedly ({info}); please report it");
    }));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::from(tenantctl::client::exit::LOCAL);
        }
    };
    let code = runtime.block_on(tenantctl::run(std::env::args_os(), &mut std::io::stdout(), &mut std::io::stderr()));
    ExitCode::from(code)
}
