#!/usr/bin/env python3
"""Init time of a Lambda bootstrap: time from process start to its first
GET /2018-06-01/runtime/invocation/next on a stub Runtime API (127.0.0.1 only).
Also stands in for the Parameters and Secrets extension (GET /secretsmanager/get),
so functions with FLOWMETER_SECRET_ARN do their real init-time secret read.
Usage: runtime_stub.py BOOTSTRAP RUNS [secret]"""
import http.server, json, os, socket, statistics, subprocess, sys, threading, time

binary, runs, with_secret = sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3
state = {}

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/2018-06-01/runtime/invocation/next"):
            state["next_at"] = time.perf_counter()
            try:
                with open(f"/proc/{state['pid']}/status") as f:
                    state["rss_kb"] = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            except Exception:
                state["rss_kb"] = 0
            state["done"].set()
            time.sleep(5)  # never answer: the process is killed
        elif self.path.startswith("/secretsmanager/get"):
            assert self.headers.get("X-Aws-Parameters-Secrets-Token") == "stub-session-token"
            state["secret_reads"] = state.get("secret_reads", 0) + 1
            body = json.dumps({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowmeter/secrets-AbCdEf",
                               "Name": "flowmeter/secrets",
                               "SecretString": json.dumps({"github": "gh", "generic": "gen", "api_token": "t", "admin_token": "a"})}).encode()
            self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
        else:
            self.send_response(404); self.end_headers()

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()

env = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
       "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
       "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
       "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_ACCESS_KEY_ID": "AKIDSTUB", "AWS_SECRET_ACCESS_KEY": "stub", "AWS_SESSION_TOKEN": "stub-session-token",
       "AWS_EC2_METADATA_DISABLED": "true", "TABLE_NAME": "flowmeter", "RUST_LOG": "warn"}
if with_secret:
    env["FLOWMETER_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowmeter/secrets-AbCdEf"
    env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(port)

times, rss = [], []
for _ in range(runs):
    state["done"] = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state["pid"] = proc.pid
    if not state["done"].wait(10):
        proc.kill(); sys.exit(f"{binary}: no /next within 10 s (exit code {proc.poll()})")
    times.append((state["next_at"] - start) * 1000)
    rss.append(state["rss_kb"] / 1024)
    proc.kill(); proc.wait()
times.sort()
print(json.dumps({"binary": os.path.basename(binary), "runs": runs,
                  "init_ms_median": round(statistics.median(times), 1), "init_ms_min": round(times[0], 1),
                  "init_ms_p90": round(times[int(0.9 * (runs - 1))], 1), "rss_mb_median": round(statistics.median(rss), 1),
                  "secret_reads": state.get("secret_reads", 0)}))
