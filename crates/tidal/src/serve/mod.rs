//! `tidal serve`: the HTTP/JSON server on the facade (axum on tokio).
//!
//! One process opens one data directory and serves `/v1/...` writes,
//! queries, entity reads and statistics, `/healthz`, Prometheus `/metrics`
//! and the OpenAPI 3 document at `/v1/openapi.json` (docs/server.md). Facade
//! calls block, so handlers run them on tokio's blocking pool; single
//! signal writes go through [`batcher`], which coalesces concurrent
//! requests into one log append.
//!
//! Layers, outermost first: tracing span and metrics, bearer-token auth
//! (not on `/healthz`), then for every route but `/healthz` load shedding
//! (503 when `--max-concurrency` requests are in flight) and the
//! per-request timeout (503). Request bodies are capped at `--max-body`
//! (413), statements at [`tidal_query::MAX_STATEMENT_BYTES`] (413).
//! SIGTERM or Ctrl-C stops accepting, drains in-flight requests (waiting
//! at most the timeout and a second for open connections), drains the
//! batcher, then checkpoints and closes the database
//! ([`TidalDB::shutdown`]) and exits 0: every acknowledged write was
//! durable before its reply was sent.

mod api;
mod auth;
mod batcher;
mod error;
mod metrics;
mod names;
mod reads;
mod writes;

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use tidal::{Config, TidalDB};
use tower::ServiceBuilder;

use self::batcher::Batcher;
use self::error::ApiError;
use self::metrics::Metrics;

/// The default address: loopback only.
const DEFAULT_ADDR: &str = "127.0.0.1:7700";

/// How log lines are printed.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `tidal serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The data directory (created with the default schema if new; use
    /// `tidal init` first for your own schema).
    #[arg(long, default_value = tidal::DEFAULT_DIR)]
    dir: PathBuf,
    /// The address to listen on (port 0 picks a free port; the line
    /// `listening on http://ADDR` names it).
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: SocketAddr,
    /// The bearer token every request but /healthz must carry; required
    /// off loopback.
    #[arg(long, env = "TIDAL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How log lines are printed (to stderr).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// The largest request body, in bytes (larger: 413).
    #[arg(long, default_value_t = 8 << 20)]
    max_body: usize,
    /// The longest a request may take, in seconds (longer: 503).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Requests served at once; more are refused with 503 at once.
    #[arg(long, default_value_t = 256)]
    max_concurrency: usize,
}

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) db: Arc<TidalDB>,
    pub(crate) batcher: Batcher,
    pub(crate) metrics: Metrics,
}

/// The shared state handle handlers extract.
pub(crate) type State = Arc<AppState>;

/// Runs the server until SIGTERM or Ctrl-C.
pub(crate) fn run(args: &Args) -> tidal::Result<()> {
    init_tracing(args.log_format);
    let token = args.token.as_deref().filter(|t| !t.is_empty());
    if token.is_none() && !args.addr.ip().is_loopback() {
        return Err(tidal::Error::InvalidArgument(format!(
            "refusing to serve on {} without a token: off loopback every request must be authenticated \
             (pass --token or set TIDAL_TOKEN)",
            args.addr
        )));
    }
    if !args.timeout.is_finite() || args.timeout <= 0.0 || args.timeout > 86_400.0 {
        return Err(tidal::Error::InvalidArgument(format!(
            "--timeout {} must be above 0 and at most 86400 seconds",
            args.timeout
        )));
    }
    let db = Arc::new(TidalDB::open(Config::new(&args.dir))?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("tidal-serve").build()?;
    let served = runtime.block_on(serve(args, token, Arc::clone(&db)));
    // Whatever happened, close the database: checkpoint and flush.
    let closed = db.shutdown();
    served?;
    closed?;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn serve(args: &Args, token: Option<&str>, db: Arc<TidalDB>) -> tidal::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let local = listener.local_addr()?;
    let batcher = Batcher::start(&db)?;
    let state = Arc::new(AppState { db, batcher, metrics: Metrics::default() });
    let app = router(Arc::clone(&state), args, token);
    let stop = shutdown_signal()?;
    // The line tests and scripts wait for; stdout is line-buffered when a
    // pipe, so flush it.
    println!("listening on http://{local}");
    {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
    tracing::info!(%local, dir = %args.dir.display(), "listening");
    // Draining is bounded: every handler is (by the timeout), but writing a
    // reply to a client that does not read it is not, so past the timeout
    // and a second the server stops waiting. Every reply already sent was
    // for a durable write; a request cut off gets none.
    let (fired, on_fire) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        stop.await;
        let _ = fired.send(());
    });
    let drain_limit = Duration::from_secs_f64(args.timeout) + Duration::from_secs(1);
    tokio::select! {
        outcome = server.into_future() => {
            outcome?;
            tracing::info!("stopped accepting; in-flight requests drained");
        }
        () = async {
            if on_fire.await.is_ok() {
                tokio::time::sleep(drain_limit).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(?drain_limit, "connections still open after the drain limit; closing anyway");
        }
    }
    // Write out what the batcher still holds (requests cut off by the drain
    // limit), then stop its threads; the caller closes the database.
    state.batcher.close();
    Ok(())
}

/// The whole router: the `/v1` API with its OpenAPI document, `/healthz`
/// and `/metrics`, with the layers described in the module docs.
fn router(state: State, args: &Args, token: Option<&str>) -> Router {
    let timeout = Duration::from_secs_f64(args.timeout);
    let (api, mut doc) = api::routes().split_for_parts();
    doc.merge(api::outside_routes_doc());
    // Serialized once; a document of our own types always serializes.
    let doc = axum::body::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let guarded = api
        .route("/metrics", axum::routing::get(reads::metrics))
        .route("/v1/openapi.json", axum::routing::get(move || api::openapi_json(doc.clone())))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                // One semaphore for the whole server: `Router::layer` wraps
                // each route apart, and a plain concurrency limit would give
                // each its own.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(args.max_concurrency.max(1)))
                .timeout(timeout),
        )
        .layer(DefaultBodyLimit::max(args.max_body));
    let guarded = match token {
        Some(t) => guarded.layer(axum::middleware::from_fn_with_state(auth::Token::new(t), auth::require)),
        None => guarded,
    };
    Router::new()
        .route("/healthz", axum::routing::get(reads::healthz))
        .merge(guarded)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), metrics::record))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// Turns the limit layers' errors into JSON replies: 503 for overload and
/// for a request past its timeout.
async fn overloaded(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::timeout()
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::overloaded()
    } else {
        ApiError::internal(&err.to_string())
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route (see /v1/openapi.json)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Listens for SIGTERM and SIGINT (Ctrl-C) from the moment it is made —
/// before the server says it is listening, so a signal sent right after
/// that line is never missed (and never kills the process instead).
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down: draining in-flight requests");
    })
}

/// Logs to stderr as text or JSON lines; `RUST_LOG` filters (default
/// `warn,tidal=info`: the server's own lines, its dependencies' warnings).
fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,tidal=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
