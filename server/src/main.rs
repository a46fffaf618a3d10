//! `floorwalker`: a thin shell over the library.

use anyhow::Context;
use clap::Parser;
use floorwalker::config::{Cli, Command};
use floorwalker::domain::team::Role;
use floorwalker::domain::{check_password, normalize_email, plausible_email, Problems};
use floorwalker::storage::{Db, NewAccount};
use floorwalker::{app, auth, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    return_large_frees_to_the_os();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            telemetry::init_logging(args.log_json);
            let application = app::Application::build(args).await?;
            application.run_until(app::shutdown_signal()).await
        }
        Command::Migrate(args) => {
            telemetry::init_logging(false);
            let db = Db::connect(&args.database_url).await?;
            db.migrate().await?;
            println!("migrated {}", args.database_url.redacted());
            Ok(())
        }
        Command::CreateOperator(args) => {
            telemetry::init_logging(false);
            let email = normalize_email(&args.email);
            let mut p = Problems::new();
            p.check(plausible_email(&email), "email", "must be an email address");
            check_password(&mut p, "password", args.password.expose());
            if let Err(errs) = p.into_result() {
                for e in errs {
                    eprintln!("{}: {}", e.field, e.message);
                }
                std::process::exit(2);
            }
            let db = Db::connect(&args.db.database_url).await?;
            db.migrate().await?;
            let hash = auth::hash_password(args.password.expose().to_owned()).await?;
            let account = db
                .create_account(&NewAccount {
                    merchant_id: None,
                    email: &email,
                    name: &args.name,
                    password_hash: &hash,
                    role: Role::Operator,
                    modules: &[],
                })
                .await
                .context("creating the operator")?;
            println!("operator {} created ({})", account.email, account.id);
            Ok(())
        }
        Command::ProtocolTypes => {
            print!("{}", floorwalker::wire_types::typescript());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", floorwalker::http::api().1.to_pretty_json()?);
            Ok(())
        }
    }
}

/// Large allocations (an Argon2 password hash takes 19 MiB) always come from `mmap`, so freeing
/// one gives the memory back. glibc otherwise raises its mmap threshold after the first such free
/// and keeps later ones in per-thread arenas: a hundred expert sign-ups left a node at 575 MiB
/// resident instead of 40.
fn return_large_frees_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; it is called before anything large is
    // allocated.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
