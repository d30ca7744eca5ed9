//! Shared test helpers: per-test databases on both backends, an in-process
//! server on a random port, and a client with typed helpers.

#![allow(dead_code, unreachable_pub)]

pub mod actions;
pub mod apis;
pub mod browser;
pub mod chrome;
pub mod consoles;
pub mod db;
pub mod fakes;
pub mod google;
pub mod idp;
pub mod link;
pub mod peers;
pub mod process;
pub mod receiver;
pub mod server;
pub mod signing;
pub mod upstream;
pub mod workspace;

pub use db::TestDb;
pub use server::{spawn_app, spawn_app_with};

/// Runs a test body once per backend: SQLite always, PostgreSQL when
/// SWITCHBOARD_TEST_POSTGRES_URL is set (and says so plainly when it is not).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::support::TestDb::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::support::TestDb::postgres().await {
                    Some(db) => super::$body(db).await,
                    None => eprintln!("SKIPPED {}::postgres: SWITCHBOARD_TEST_POSTGRES_URL is not set", module_path!()),
                }
            }
        }
    };
}
