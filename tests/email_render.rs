//! The digest email as a mail client would show it: the golden HTML rendered by headless
//! Chromium (Debian package `chromium`) in a 600 px wide window, a screenshot kept in
//! `target/email-render/`, and no horizontal overflow. Needs Chromium, so it is `#[ignore]`d in
//! `make test` and run by `make test-render` (CI runs both).

use std::path::PathBuf;
use std::process::Command;

fn chromium(args: &[&str]) -> std::process::Output {
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=600,2400",
    ]);
    let profile = std::env::temp_dir().join(format!("flowmeter-chromium-{}", std::process::id()));
    command.arg(format!("--user-data-dir={}", profile.display()));
    command.args(args);
    command
        .output()
        .expect("chromium (apt-get install chromium; `make test-render` does)")
}

#[test]
#[ignore = "needs Chromium: run with `make test-render`"]
fn the_digest_email_fits_600_px_without_horizontal_overflow() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let html = std::fs::read_to_string(root.join("shared/tests/golden/digest.html"))
        .expect("golden digest.html");
    assert!(
        !html.contains("<svg") && !html.contains("<img") && !html.contains("<script"),
        "no SVG, images or scripts"
    );
    assert!(
        !html.contains("http://") || html.contains("href=\"http"),
        "no external assets"
    );

    let out = root.join("target/email-render");
    std::fs::create_dir_all(&out).expect("output dir");
    // A copy with a probe that records the widest element against the viewport.
    let probe = r#"<script>
      window.addEventListener('load', () => {
        let widest = document.documentElement.scrollWidth;
        let culprit = '';
        for (const el of document.querySelectorAll('*')) {
          const r = el.getBoundingClientRect();
          if (r.right > window.innerWidth + 0.5 && r.right > widest - 1) { widest = r.right; culprit = el.tagName + '.' + el.className; }
        }
        document.body.setAttribute('data-probe', JSON.stringify({viewport: window.innerWidth, scroll: document.documentElement.scrollWidth, widest, culprit}));
      });
    </script>"#;
    let probed = match html.rfind("</body>") {
        Some(at) => format!("{}{probe}{}", &html[..at], &html[at..]),
        None => format!("{html}{probe}"),
    };
    let page = out.join("digest-probe.html");
    std::fs::write(&page, probed).expect("write probe page");
    let url = format!("file://{}", page.display());

    let dom = chromium(&["--virtual-time-budget=3000", "--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom
        .find("data-probe=\"")
        .map(|i| i + "data-probe=\"".len())
        .expect("probe ran");
    let end = dom[start..]
        .find('"')
        .map(|i| start + i)
        .expect("probe value");
    let probe: serde_json::Value =
        serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).expect("probe JSON");
    let viewport = probe["viewport"].as_f64().expect("viewport");
    assert_eq!(viewport, 600.0, "rendered at 600 px: {probe}");
    assert!(
        probe["scroll"].as_f64().expect("scroll") <= viewport,
        "horizontal overflow: {probe}"
    );
    assert!(
        probe["widest"].as_f64().expect("widest") <= viewport + 0.5,
        "an element overflows: {probe}"
    );

    let screenshot = out.join("digest-600.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = chromium(&[&format!("--screenshot={}", screenshot.display()), &url]);
    assert!(
        shot.status.success(),
        "screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot written ({size} bytes)");
}
