//! `agentstack`: one binary, one subcommand per role: the terminal viewer of a trace file or of
//! a server's API (`traces`, `show`, `tail`, in `viewer/`), `serve` (every server stage in one
//! process, in the library's `serve` module), and the distributed mode's roles `collector`,
//! `worker writer|security|cost`, `api` and `migrate` (the library's `roles` module).

mod viewer;

/// mimalloc instead of the system allocator: the server allocates and frees many small and
/// large buffers per request (decoded spans, JSON text, rows); glibc's malloc spent a fifth of
/// `serve`'s CPU under sustained ingest on it, returning memory to the system and faulting it
/// back in. The crate's `override` feature makes C code (SQLite's page cache) use it too: left
/// alone on glibc, the page cache's memory was trimmed and faulted back on every query, and the
/// `status=error` trace list over 1M spans took twice as long (p50 45 → 20 ms).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io;
use std::process::ExitCode;

use anstream::ColorChoice;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Tracing for LLM agents: look at the traces your agents write.
#[derive(Debug, Parser)]
#[command(
    name = "agentstack",
    version,
    after_help = "\
Traces come from the agentstack SDK: call agentstack::init() in your agent (with
AGENTSTACK_MODE=local, the default without an endpoint) and it writes ./.agentstack/traces.db.

Examples:
  agentstack traces --since 1h              the last hour's traces, newest first
  agentstack traces --status error --json   failed traces, as JSON lines
  agentstack show 4bf92f35                  one trace as a tree (the id prefix from `traces`)
  agentstack show 4bf92f35 --io             … with each span's input and output
  agentstack show 4bf92f35 --span 00f067aa  one span in full
  agentstack tail --name research           follow traces as they arrive
  agentstack serve                          collect OTLP/HTTP on 127.0.0.1:4318 into
                                            ./.agentstack/server.db (read it with --db), with
                                            the REST API on http://127.0.0.1:8000/api/v1
  agentstack keys create --project shop     an API key for project `shop` (printed once)
  agentstack prices show gpt-4o-2024-08-06  the price a model name gets, and why"
)]
struct Cli {
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List recent traces, newest first: time, id, root span, duration, spans, tokens, status
    Traces(viewer::TracesArgs),
    /// Show one trace as a tree of spans, with durations, models, tokens and errors
    Show(viewer::ShowArgs),
    /// Follow traces as they arrive: a line when a trace appears or changes, until Ctrl-C
    Tail(viewer::TailArgs),
    /// Run the server: an OTLP/HTTP collector (POST /v1/traces) storing spans in SQLite, and the
    /// REST API reading them (GET /api/v1/traces)
    Serve(Box<agentstack_server::serve::ServeArgs>),
    /// Manage the server's API keys (one project each): create, list, revoke
    Keys(agentstack_server::auth::cli::KeysArgs),
    /// The price table: convert LiteLLM's price file (update), or show a model's price (show)
    Prices(agentstack_server::prices_cli::PricesArgs),
    /// The security detectors: measure them on a labelled set (`security eval FILE`)
    Security(agentstack_server::security_cli::SecurityArgs),
    /// Distributed mode: the OTLP collector alone, into the Redis stream (needs
    /// AGENTSTACK_REDIS_URL and AGENTSTACK_CLICKHOUSE_URL; takes `serve`'s options)
    Collector(Box<agentstack_server::serve::ServeArgs>),
    /// Distributed mode: one worker (writer, security or cost), reading its consumer group of
    /// the Redis stream (takes `serve`'s options; --health for its health checks)
    Worker(Box<WorkerArgs>),
    /// Distributed mode: the REST API and dashboard alone, reading ClickHouse (takes `serve`'s
    /// options)
    Api(Box<agentstack_server::serve::ServeArgs>),
    /// Distributed mode: create the ClickHouse database and apply its schema
    Migrate(Box<agentstack_server::serve::ServeArgs>),
}

/// `agentstack worker KIND`.
#[derive(Debug, clap::Args)]
struct WorkerArgs {
    /// Which worker
    #[arg(value_enum)]
    kind: agentstack_server::roles::WorkerKind,
    #[command(flatten)]
    serve: agentstack_server::serve::ServeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl From<ColorWhen> for ColorChoice {
    fn from(when: ColorWhen) -> ColorChoice {
        match when {
            ColorWhen::Auto => ColorChoice::Auto,
            ColorWhen::Always => ColorChoice::Always,
            ColorWhen::Never => ColorChoice::Never,
        }
    }
}

/// What runs on the server's runtime.
enum ServerCommand<'a> {
    Serve(&'a agentstack_server::serve::ServeArgs),
    Role(
        agentstack_server::pipeline::Stages,
        &'static str,
        &'a agentstack_server::serve::ServeArgs,
    ),
    Migrate(&'a agentstack_server::serve::ServeArgs),
}

/// A server command on a multi-threaded tokio runtime, until Ctrl-C or SIGTERM.
fn server(command: ServerCommand<'_>) -> anyhow::Result<()> {
    use agentstack_server::serve::shutdown_signal;
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("agentstack-serve")
        .build()
        .context("cannot start the server's tokio runtime")?;
    runtime.block_on(async {
        match command {
            ServerCommand::Serve(args) => {
                agentstack_server::serve::run(args, shutdown_signal()).await
            }
            ServerCommand::Role(stages, name, args) => {
                agentstack_server::roles::run_distributed(stages, args, name, shutdown_signal())
                    .await
            }
            ServerCommand::Migrate(args) => agentstack_server::roles::migrate(args).await,
        }
    })
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // Every server command reads the same config file.
    let server_args = match (&mut cli.command, matches.subcommand()) {
        (
            Command::Serve(args)
            | Command::Collector(args)
            | Command::Api(args)
            | Command::Migrate(args),
            Some((_, sub)),
        ) => Some((&mut **args, sub)),
        (Command::Worker(worker), Some((_, sub))) => Some((&mut worker.serve, sub)),
        _ => None,
    };
    if let Some((args, sub)) = server_args {
        if let Err(error) = agentstack_server::config::apply_config_file(args, sub) {
            eprintln!("agentstack: {error}");
            return ExitCode::FAILURE;
        }
        // The server's events go to stderr as structured logs from here on.
        if let Err(error) = agentstack_server::logging::init(args.log_format, &args.log_filter) {
            eprintln!("agentstack: {error}");
            return ExitCode::FAILURE;
        }
    }
    let color = ColorChoice::from(cli.color);
    // Messages on stderr follow the same choice.
    color.write_global();
    // The viewer's terminal holds stdout locked while it lives, so only the viewer makes one:
    // `serve` prints from several threads.
    let term = || viewer::Terminal::new(color);
    let result = match &cli.command {
        Command::Traces(args) => viewer::traces(args, &mut term()),
        Command::Show(args) => viewer::show(args, &mut term()),
        Command::Tail(args) => viewer::tail(args, &mut term()),
        Command::Serve(args) => server(ServerCommand::Serve(args)),
        Command::Collector(args) => server(ServerCommand::Role(
            agentstack_server::roles::collector_stages(),
            "collector",
            args,
        )),
        Command::Worker(worker) => server(ServerCommand::Role(
            worker.kind.stages(),
            worker.kind.name(),
            &worker.serve,
        )),
        Command::Api(args) => server(ServerCommand::Role(
            agentstack_server::roles::api_stages(),
            "api",
            args,
        )),
        Command::Migrate(args) => server(ServerCommand::Migrate(args)),
        Command::Keys(args) => agentstack_server::auth::cli::run(args, &mut io::stdout().lock()),
        Command::Prices(args) => agentstack_server::prices_cli::run(args, &mut io::stdout().lock()),
        Command::Security(args) => {
            agentstack_server::security_cli::run(args, &mut io::stdout().lock())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`agentstack traces | head`): not an error.
        Err(error)
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            use std::io::Write;
            let style = anstyle::AnsiColor::Red.on_default().bold();
            let _ = writeln!(anstream::stderr(), "{style}error:{style:#} {error:#}");
            ExitCode::FAILURE
        }
    }
}
