//! How the platform starts and stops inside a host process: its long-running work is handed to the
//! caller as named futures ([`Task`]) to run under the caller's supervision; bulk jobs run under a
//! tracker ([`JobRunner`]) so shutdown can wait for them; and live responses (server-sent event
//! streams) end when the platform's shutdown token is cancelled, so a graceful HTTP shutdown is not
//! held open by them. Everything stops on [`crate::AppState::shutdown_token`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use crate::state::AppState;

/// A long-running piece of the platform's background work, for the caller to spawn; it returns
/// once the platform's shutdown token is cancelled (and, for bulk jobs, the running ones stopped).
pub struct Task {
    /// What it is, for logs.
    pub name: &'static str,
    /// The work.
    pub future: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Task {
    /// `future`, ended early when `stop` is cancelled.
    pub fn until(
        name: &'static str,
        stop: CancellationToken,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> Task {
        Task {
            name,
            future: Box::pin(async move {
                tokio::select! {
                    _ = future => {}
                    _ = stop.cancelled() => {}
                }
            }),
        }
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}

/// Runs bulk jobs; at shutdown each stops where it is (a job is resumable: the next start picks it
/// up through `routes::jobs::resume_jobs`).
#[derive(Debug, Clone)]
pub struct JobRunner {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl JobRunner {
    /// A runner whose jobs stop when `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Self {
        Self { tracker: TaskTracker::new(), stop }
    }

    /// Runs `job` in the background.
    pub fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = job => {}
                _ = stop.cancelled() => tracing::info!("bulk job interrupted by shutdown; it resumes at the next start"),
            }
        });
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }

    /// Waits for the shutdown token, then for every job to have stopped.
    pub(crate) async fn stopped(self) {
        self.stop.cancelled().await;
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Middleware: a `text/event-stream` response ends (cleanly, as if the server closed the stream)
/// when the platform shuts down; other responses are left alone.
pub(crate) async fn end_streams_at_shutdown(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let streaming =
        response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !streaming {
        return response;
    }
    let (parts, body) = response.into_parts();
    let stop = Box::pin(st.shutdown_token().clone().cancelled_owned());
    Response::from_parts(parts, Body::new(UntilShutdown { body, stop }))
}

/// A body that ends when its token is cancelled.
struct UntilShutdown {
    body: Body,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl http_body::Body for UntilShutdown {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Pin::new(&mut this.body).poll_frame(cx)
    }
}
