//! The signals that end a run: SIGTERM (the Job's or Deployment's pod is deleted) and SIGINT.

/// Resolves on SIGTERM or SIGINT with the signal's name. The handlers are registered when this is
/// called, not when it is first polled, so a signal at any point after the call is seen.
pub fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
}
