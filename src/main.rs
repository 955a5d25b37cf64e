//! The `switchboard` command: `serve`, `check`, `--version`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard::config::{self, LogFormat};

#[derive(Parser)]
#[command(name = "switchboard", version, about = "Contact-center softswitch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the switch with the configuration in DIR.
    Serve {
        /// Folder holding switchboard.toml, sip-profiles/ and ivr-flows/.
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// Log format; overrides [log] format in switchboard.toml.
        #[arg(long, value_enum)]
        log_format: Option<CliLogFormat>,
    },
    /// Check every configuration file; one line per problem, exit 1 if any.
    Check {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
    /// Show live registrations and the state of trunk peers and
    /// outbound registrations (read from the database).
    Status {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
    /// Check `ivr-flows/` and have the running switch load them (SIGHUP):
    /// new calls use the new flows, calls in progress keep theirs.
    Reload {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
    /// Force a calendar open or closed (an emergency closure), or set it
    /// back to its hours: `calendar NAME open|closed|auto`.
    Calendar {
        /// The calendar (`ivr-flows/calendars.toml`).
        name: String,
        /// open, closed or auto.
        state: String,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
    /// Customer records (sealed in the database): `import FILE`.
    Customers {
        #[command(subcommand)]
        action: CustomersAction,
    },
    /// Change an agent's state as their feature codes do: `agent ID ready`,
    /// `agent ID break [REASON]`, `agent ID logout`.
    Agent {
        /// The agent's extension.
        id: String,
        /// ready, break or logout.
        state: String,
        /// A break's reason code.
        reason: Option<String>,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
    /// Show the agents (contact-center/agents.toml) with their state and
    /// latest transitions, as the running switch stored them, and their
    /// figures: offers, answers, misses, talk and handle times, time in
    /// each state, occupancy.
    Agents {
        #[command(subcommand)]
        action: Option<AgentsAction>,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// Figures over the last HOURS.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show each queue's figures: waiting now, longest wait, offered,
    /// answered, abandoned, service level, ASA and AHT, and the top
    /// intents of the callers waiting now and of the period.
    Queues {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// Callers who joined in the last HOURS.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the latest callback requests: number, queue, place in line,
    /// state, attempts, the last agent and outcome.
    Callbacks {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// How many requests, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Quality assurance: `qa run CALL-ID|WAV`, `qa result CALL-ID|RECORDING`,
    /// `qa jobs`, `qa worker`, `qa report`.
    Qa {
        #[command(subcommand)]
        action: QaAction,
    },
    /// Show the latest call detail records: legs and their quality,
    /// recordings, digits, hold and media timeouts.
    Calls {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// How many calls, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AgentsAction {
    /// Insert or replace (by id) the agents of a TOML file of `[[agent]]`
    /// tables written as in contact-center/agents.toml, in the database;
    /// nothing is imported when an entry is wrong. A running switch takes
    /// them at its next start.
    Import {
        /// The TOML file.
        file: PathBuf,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum QaAction {
    /// Check a call's recordings (by SIP Call-ID) or a WAV file (stereo:
    /// caller left, agent right; mono: the agent alone) against
    /// qa/rules.toml and print the score with the words heard as evidence.
    Run {
        /// A call's Call-ID or a WAV file.
        target: String,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// `text` (default) or `json` (one object per recording).
        #[arg(long, value_enum, default_value_t = QaFormat::Text)]
        format: QaFormat,
    },
    /// Print the stored QA result of a call's recordings (by SIP Call-ID)
    /// or of one recording, as `qa run` prints it (evidence and
    /// transcripts unsealed with the switch's key); fails when there is no
    /// result yet.
    Result {
        /// A call's Call-ID or a recording's path.
        target: String,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// `text` (default) or `json` (one object per recording, as `qa run`).
        #[arg(long, value_enum, default_value_t = QaFormat::Text)]
        format: QaFormat,
    },
    /// Show the QA job queue, newest first: state, attempts, last failure.
    Jobs {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// Only jobs in this state: pending, running, done or failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run QA workers in this process until SIGINT/SIGTERM (for a switch
    /// with `[qa] workers = 0`, or to add capacity).
    Worker {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// Worker threads (default: `[qa] workers`, at least 1).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Agent scorecards and the period's QA report (averages per category
    /// and day, rules missed and by whom, intents, queues, callers'
    /// frequent phrases) from the stored results of calls that began in
    /// the period. Dates are UTC days.
    Report {
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
        /// First day, YYYY-MM-DD (UTC; default: 6 days before --to).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day, included, YYYY-MM-DD (UTC; default: today).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Only this agent's calls.
        #[arg(long, value_name = "ID")]
        agent: Option<String>,
        /// `md` (Markdown tables, default), `json` (the report's model) or
        /// `html` (one self-contained page with charts).
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Md,
    Json,
    Html,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum QaFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum CustomersAction {
    /// Insert or update (by number) the customers of a TOML file of
    /// `[[customer]]` tables (number, name, email, tier, segment, language,
    /// agent); nothing is imported when an entry is wrong.
    Import {
        /// The TOML file, e.g. demo/customers.toml.
        file: PathBuf,
        #[arg(long, value_name = "DIR", default_value = ".")]
        config: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CliLogFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match load_or_report(&config).ok() {
            Some(c) => {
                for (profile, users) in c.exposed_demo_credentials() {
                    eprintln!(
                        "warning: profile `{profile}` listens beyond loopback with the demo passwords of {}",
                        users.join(", ")
                    );
                }
                println!(
                    "configuration OK: {} profile(s): {}",
                    c.profiles.len(),
                    c.profiles
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let flows = c.flows.current();
                if !flows.is_empty() {
                    println!(
                        "IVR flows OK: {} flow(s): {}; calendars: {}",
                        flows.len(),
                        flows.names().collect::<Vec<_>>().join(", "),
                        flows.calendars().names().collect::<Vec<_>>().join(", ")
                    );
                }
                let cc = &c.contact_center;
                if !cc.agents.is_empty() || !cc.queues.is_empty() {
                    println!(
                        "contact center OK: {} agent(s), {} queue(s): {}; skills: {}",
                        cc.agents.len(),
                        cc.queues.len(),
                        cc.queues
                            .iter()
                            .map(|q| q.spec.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        cc.skills.join(", ")
                    );
                }
                if let Some(rules) = &c.qa_rules {
                    println!(
                        "QA rules OK: {} item(s) in {} categories: {}",
                        rules.items().count(),
                        rules.categories.len(),
                        rules
                            .categories
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        },
        Command::Customers {
            action: CustomersAction::Import { config, file },
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(async move { switchboard::admin::import_customers(&cfg.switch, &file).await })
        }),
        Command::Calendar {
            name,
            state,
            config,
        } => admin_command(&config, config::load, move |cfg| {
            Box::pin(async move { switchboard::admin::force_calendar(cfg, &name, &state).await })
        }),
        Command::Reload { config } => admin_command(&config, config::load, |cfg| {
            Box::pin(async move { switchboard::admin::reload(cfg) })
        }),
        Command::Status { config } => admin_command(&config, config::load_settings, |cfg| {
            Box::pin(switchboard::admin::status(cfg))
        }),
        Command::Agent {
            id,
            state,
            reason,
            config,
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(async move {
                switchboard::admin::change_agent(cfg, &id, &state, reason.as_deref()).await
            })
        }),
        Command::Queues {
            config,
            hours,
            json,
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(switchboard::admin::queues(cfg, hours, json))
        }),
        Command::Agents {
            action: Some(AgentsAction::Import { file, config }),
            ..
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(async move { switchboard::admin::import_agents(cfg, &file).await })
        }),
        Command::Agents {
            action: None,
            config,
            hours,
            json,
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(switchboard::admin::agents(cfg, hours, json))
        }),
        Command::Callbacks {
            config,
            limit,
            json,
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(switchboard::admin::callbacks(&cfg.switch, limit, json))
        }),
        Command::Calls {
            config,
            limit,
            json,
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(switchboard::admin::calls(&cfg.switch, limit, json))
        }),
        Command::Qa {
            action:
                QaAction::Run {
                    target,
                    config,
                    format,
                },
        } => admin_command(&config, config::load, move |cfg| {
            Box::pin(async move {
                switchboard::qa::cli::run(cfg, &target, format == QaFormat::Json).await
            })
        }),
        Command::Qa {
            action:
                QaAction::Result {
                    target,
                    config,
                    format,
                },
        } => admin_command(&config, config::load_settings, move |cfg| {
            Box::pin(async move {
                switchboard::qa::cli::result(&cfg.switch, &target, format == QaFormat::Json).await
            })
        }),
        Command::Qa {
            action:
                QaAction::Jobs {
                    config,
                    state,
                    limit,
                    json,
                },
        } => admin_command(&config, config::load, move |cfg| {
            Box::pin(
                async move { switchboard::qa::cli::jobs(cfg, state.as_deref(), limit, json).await },
            )
        }),
        Command::Qa {
            action:
                QaAction::Report {
                    config,
                    from,
                    to,
                    agent,
                    format,
                },
        } => admin_command(&config, config::load, move |cfg| {
            let format = match format {
                ReportFormat::Md => switchboard::qa::report::Format::Markdown,
                ReportFormat::Json => switchboard::qa::report::Format::Json,
                ReportFormat::Html => switchboard::qa::report::Format::Html,
            };
            Box::pin(async move {
                switchboard::qa::cli::report(
                    cfg,
                    from.as_deref(),
                    to.as_deref(),
                    agent.as_deref(),
                    format,
                )
                .await
            })
        }),
        Command::Qa {
            action: QaAction::Worker { config, workers },
        } => {
            let Ok(cfg) = load_or_report(&config) else {
                return ExitCode::FAILURE;
            };
            switchboard::logging::init(cfg.switch.log.format, &cfg.switch.log.level);
            let Some(runtime) = build_runtime(tokio::runtime::Builder::new_multi_thread()) else {
                return ExitCode::FAILURE;
            };
            print_report(runtime.block_on(switchboard::qa::cli::worker(&cfg, workers)))
        }
        Command::Serve { config, log_format } => {
            let cfg = match load_or_report(&config) {
                Ok(c) => c,
                Err(problems) => {
                    eprintln!(
                        "switchboard: not starting: the configuration has {problems} problem(s)"
                    );
                    return ExitCode::FAILURE;
                }
            };
            let format = match log_format {
                Some(CliLogFormat::Json) => LogFormat::Json,
                Some(CliLogFormat::Human) => LogFormat::Human,
                None => cfg.switch.log.format,
            };
            switchboard::logging::init(format, &cfg.switch.log.level);
            // Media first: its threads keep the process's priority. This
            // thread then drops SIGNALLING_NICE_STEPS below it, and every
            // thread started from here on (signalling, the database's,
            // espeak-ng) inherits that (see media::runtime).
            let media = match switchboard::media::runtime::start(cfg.switch.media.realtime_priority)
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("switchboard: cannot start the media runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Some(nice) = switchboard::thread_priority::lowered_by(SIGNALLING_NICE_STEPS) {
                switchboard::thread_priority::set(nice);
            }
            let Some(runtime) = build_runtime(tokio::runtime::Builder::new_multi_thread()) else {
                return ExitCode::FAILURE;
            };
            let outcome = runtime.block_on(switchboard::server::run(cfg));
            // Signalling (calls, CDRs) stops first. Media tasks still
            // running are then dropped: a recording's writer commits its
            // audio and header when dropped.
            drop(runtime);
            media.shutdown_timeout(std::time::Duration::from_secs(5));
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("switchboard stopped: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// How many nice levels the signalling threads of `serve` run below the
/// media threads: under load the kernel then gives a media tick the core
/// before a burst of SIP work.
const SIGNALLING_NICE_STEPS: i32 = 5;

type Report<'a> = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<String>> + 'a>>;

/// Runs an admin command on the configuration `load` reads from `dir`
/// (all of it, or only the settings) and prints its report.
fn admin_command<C>(
    dir: &std::path::Path,
    load: fn(&std::path::Path) -> Result<C, Vec<config::ConfigProblem>>,
    run: impl FnOnce(&C) -> Report<'_>,
) -> ExitCode {
    let Ok(cfg) = report_problems(load(dir)) else {
        return ExitCode::FAILURE;
    };
    let Some(runtime) = build_runtime(tokio::runtime::Builder::new_current_thread()) else {
        return ExitCode::FAILURE;
    };
    print_report(runtime.block_on(run(&cfg)))
}

/// Prints a command's report, or its error on stderr (exit 1).
fn print_report(result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration, printing one line per problem when it is not
/// valid; the error is the number of problems.
fn load_or_report(dir: &std::path::Path) -> Result<config::Config, usize> {
    report_problems(config::load(dir))
}

/// Prints one line per problem of a failed load; the error is how many.
fn report_problems<C>(loaded: Result<C, Vec<config::ConfigProblem>>) -> Result<C, usize> {
    loaded.map_err(|problems| {
        for p in &problems {
            eprintln!("{p}");
        }
        problems.len()
    })
}

/// Builds a tokio runtime with every driver enabled; says why on stderr
/// when it cannot.
fn build_runtime(mut builder: tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    match builder.enable_all().build() {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            None
        }
    }
}
