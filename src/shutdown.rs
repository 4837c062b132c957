//! The one shutdown signal of every long-running command (`serve`, `witness serve`,
//! `monitor --every`): SIGINT (Ctrl-C) or SIGTERM, whichever comes first.

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. A signal that cannot be listened for is
/// logged and never resolves, so the other still stops the command.
pub async fn signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
