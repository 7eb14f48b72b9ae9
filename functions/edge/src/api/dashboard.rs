//! The web dashboard (`GET /dashboard/`): static files from the top-level `dashboard/` folder,
//! embedded at compile time. Assets are served under content-hashed names
//! (`/dashboard/assets/<stem>.<10 hex of sha256>.<ext>`, cached for a year, immutable); the HTML
//! pages are `no-cache` with their asset references rewritten to those names once per process.
//! No bearer token is needed: the files hold no data, the page calls the read API with the token
//! it is given. Every answer carries a strict Content-Security-Policy (no inline script or style).

use std::sync::OnceLock;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The routes of the dashboard, as the HTTP API declares them (template.yaml).
pub const DASHBOARD_ROUTES: [(&str, &str); 2] =
    [("GET", "/dashboard"), ("GET", "/dashboard/{proxy+}")];

/// Sent with every dashboard answer, the 404 included.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// The source files: path under `dashboard/` and content.
const ASSETS: [(&str, &str); 6] = [
    ("app.js", include_str!("../../../../dashboard/app.js")),
    ("app.css", include_str!("../../../../dashboard/app.css")),
    ("status.js", include_str!("../../../../dashboard/status.js")),
    (
        "vendor/uPlot.iife.min.js",
        include_str!("../../../../dashboard/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        include_str!("../../../../dashboard/vendor/uPlot.min.css"),
    ),
    (
        "vendor/uPlot.LICENSE",
        include_str!("../../../../dashboard/vendor/uPlot.LICENSE"),
    ),
];

/// The HTML pages: the path they answer and their source.
const PAGES: [(&str, &str); 2] = [
    (
        "/dashboard/",
        include_str!("../../../../dashboard/index.html"),
    ),
    (
        "/dashboard/status",
        include_str!("../../../../dashboard/status.html"),
    ),
];

/// An embedded asset under its hashed name.
#[derive(Debug)]
pub struct Asset {
    /// The path it was built from, under `dashboard/` (`vendor/uPlot.min.css`).
    pub source: &'static str,
    /// `/dashboard/assets/uPlot.min.1a2b3c4d5e.css`.
    pub url: String,
    pub content_type: &'static str,
    pub body: &'static str,
}

struct Built {
    assets: Vec<Asset>,
    /// Path → HTML with hashed references.
    pages: Vec<(&'static str, String)>,
}

fn content_type(source: &str) -> &'static str {
    match source.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// `/dashboard/assets/<stem>.<first 10 hex of sha256>.<ext>` of a source path.
fn hashed_url(source: &str, body: &str) -> String {
    let name = source.rsplit('/').next().unwrap_or(source);
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let short = hash.get(..10).unwrap_or(&hash);
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("/dashboard/assets/{stem}.{short}.{ext}"),
        None => format!("/dashboard/assets/{name}.{short}"),
    }
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let assets: Vec<Asset> = ASSETS
            .iter()
            .map(|(source, body)| Asset {
                source,
                url: hashed_url(source, body),
                content_type: content_type(source),
                body,
            })
            .collect();
        let pages = PAGES
            .iter()
            .map(|(path, html)| {
                let mut html = html.to_string();
                for asset in &assets {
                    html = html.replace(
                        &format!("\"{}\"", asset.source),
                        &format!("\"{}\"", asset.url),
                    );
                }
                (*path, html)
            })
            .collect();
        Built { assets, pages }
    })
}

/// The embedded assets with their hashed URLs (for tests and the size budget).
pub fn assets() -> &'static [Asset] {
    &built().assets
}

fn respond(
    status: StatusCode,
    content_type: &str,
    cache: &str,
    body: Body,
    location: Option<&str>,
) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", cache)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer");
    if let Some(location) = location {
        builder = builder.header("location", location);
    }
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// Adds the dashboard's security headers to an error answer.
fn with_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", NO_CACHE),
    ] {
        if let Ok(value) = lambda_http::http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

/// The answer to `GET` of a dashboard path (`/dashboard` or under `/dashboard/`).
pub fn serve(path: &str, query: Option<&str>) -> Response<Body> {
    if path == "/dashboard" {
        let location = match query {
            Some(q) if !q.is_empty() => format!("/dashboard/?{q}"),
            _ => "/dashboard/".to_string(),
        };
        return respond(
            StatusCode::PERMANENT_REDIRECT,
            "text/plain; charset=utf-8",
            NO_CACHE,
            Body::Text(format!("see {location}")),
            Some(&location),
        );
    }
    let built = built();
    if let Some((_, html)) = built.pages.iter().find(|(p, _)| *p == path) {
        return respond(
            StatusCode::OK,
            content_type("index.html"),
            NO_CACHE,
            Body::Text(html.clone()),
            None,
        );
    }
    if let Some(asset) = built.assets.iter().find(|a| a.url == path) {
        return respond(
            StatusCode::OK,
            asset.content_type,
            IMMUTABLE,
            Body::Text(asset.body.to_string()),
            None,
        );
    }
    with_headers(ApiError::NotFound(format!("no dashboard file {path}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a Response<Body>, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn text(r: &Response<Body>) -> String {
        match r.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        }
    }

    #[test]
    fn the_page_references_only_hashed_assets_that_are_served_immutable() {
        // given / when
        let page = serve("/dashboard/", None);
        let html = text(&page);
        // then
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(header(&page, "cache-control"), "no-cache");
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        assert_eq!(
            header(&page, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        let referenced: Vec<&Asset> = assets().iter().filter(|a| html.contains(&a.url)).collect();
        let sources: Vec<&str> = referenced.iter().map(|a| a.source).collect();
        assert_eq!(
            sources,
            [
                "app.js",
                "app.css",
                "vendor/uPlot.iife.min.js",
                "vendor/uPlot.min.css"
            ]
        );
        for asset in referenced {
            assert!(
                !html.contains(&format!("\"{}\"", asset.source)),
                "{} left unhashed",
                asset.source
            );
            let r = serve(&asset.url, None);
            assert_eq!(r.status(), StatusCode::OK, "{}", asset.url);
            assert_eq!(header(&r, "cache-control"), IMMUTABLE);
            assert_eq!(header(&r, "x-content-type-options"), "nosniff");
            assert_eq!(text(&r), asset.body);
        }
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "nothing inline"
        );
    }

    #[test]
    fn hashed_names_carry_ten_hex_of_the_content_hash() {
        let url = hashed_url("vendor/uPlot.min.css", "x");
        // sha256("x") = 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881
        assert_eq!(url, "/dashboard/assets/uPlot.min.2d711642b7.css");
    }

    #[test]
    fn no_slash_redirects_and_an_unknown_asset_is_a_json_404() {
        let r = serve("/dashboard", Some("view=teams"));
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&r, "location"), "/dashboard/?view=teams");
        let r = serve("/dashboard/assets/app.0000000000.js", None);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&r, "content-type"), "application/json");
        assert_eq!(
            header(&r, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        assert!(text(&r).contains("\"not_found\""));
    }
}
