//! How a repository is named, whatever forge hosts it. A repository's name is its web address
//! without the scheme, lower-cased: `gitlab.com/group/sub/project`, `bitbucket.org/ws/repo`,
//! `git.acme.example/platform/api` (self-managed GitLab) or
//! `bitbucket.acme.example/projects/PAY/repos/api` (Bitbucket Data Center). GitHub's repositories
//! keep their short name `owner/name`, so no key, scope or config written before other forges
//! came changes meaning; `github.com/owner/name` is read as `owner/name`.
//!
//! The two forms cannot be confused: a GitHub owner is never spelled with a `.` or `:`, and a
//! host always is (a dotted name, or `name:port`). Names become parts of table keys
//! (`PR#<repo>#<n>`, `DEP#<repo>#<id>`, split at `#`) and of scopes (`repo:<name>@<env>`), so
//! only letters, digits, `-`, `_`, `.` and `/` (and a host's `:port`) pass.

use thiserror::Error;

/// The longest segment of a repository's path (GitHub allows 100 for owner and name, GitLab
/// 255 for a path segment; no real one is near).
pub const MAX_SEGMENT_BYTES: usize = 100;

/// The longest repository name: keys hold it with room to spare (`ingest::MAX_KEY_BYTES`).
pub const MAX_REPO_BYTES: usize = 400;

/// The web address of GitHub (github.com); GitHub's short names are relative to it.
pub const GITHUB_HOST: &str = "github.com";

/// Why a string is not a repository name.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error(
    "{0:?} is not a repository: expected owner/name (GitHub) or the repository's web address \
     without https:// (gitlab.com/group/project, bitbucket.org/workspace/repo)"
)]
pub struct RepoNameError(pub String);

/// Which forge's web pages a repository has; decides the path of a PR's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
    /// Bitbucket Cloud (`bitbucket.org/…`) and Data Center (`…/projects/KEY/repos/slug`).
    Bitbucket,
}

/// Whether a link is a web address (`http`/`https`): only those leave the API, since a payload's
/// `html_url` is the sender's word and a `javascript:` URL in a dashboard link would run.
pub fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Reads a repository name as written in config, a scope or a payload: lower-cased, checked,
/// and `github.com/owner/name` shortened to `owner/name`.
pub fn parse_repo(raw: &str) -> Result<String, RepoNameError> {
    let error = || RepoNameError(raw.to_string());
    let name = raw.trim_end_matches('/').to_ascii_lowercase();
    if name.len() > MAX_REPO_BYTES || !name.is_ascii() {
        return Err(error());
    }
    let segments: Vec<&str> = name.split('/').collect();
    let Some((first, path)) = segments.split_first() else {
        return Err(error());
    };
    if !is_host(first) {
        // GitHub's owner/name.
        return match segments.as_slice() {
            [owner, repo] if is_segment(owner) && is_segment(repo) => Ok(name),
            _ => Err(error()),
        };
    }
    if path.len() < 2 || !path.iter().all(|s| is_segment(s)) {
        return Err(error());
    }
    if *first == GITHUB_HOST {
        return match path {
            [_, _] => Ok(path.join("/")),
            _ => Err(error()),
        };
    }
    Ok(name)
}

/// The repository a clone URL names: `https://gitlab.com/g/p.git`, `git@github.com:o/r.git`,
/// `ssh://git@host:7999/pay/api.git`. For ArgoCD's `spec.source.repoURL` and the like.
/// An ssh port is dropped (it is not the web address's).
pub fn from_clone_url(url: &str) -> Result<String, RepoNameError> {
    let error = || RepoNameError(url.to_string());
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    let (host, path) = if let Some((scheme, rest)) = trimmed.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/').ok_or_else(error)?;
        let host = match scheme {
            "ssh" | "git" => host.split_once(':').map_or(host, |(h, _)| h),
            _ => host,
        };
        (host, path)
    } else {
        // scp-like: git@host:path
        let rest = trimmed.rsplit_once('@').map_or(trimmed, |(_, r)| r);
        rest.split_once(':').ok_or_else(error)?
    };
    parse_repo(&format!("{host}/{path}")).map_err(|_| error())
}

/// The forge whose pages `repo` has: GitHub for `owner/name`; Bitbucket for a `bitbucket.*`
/// host or a Data Center path (`…/projects/KEY/repos/slug`); GitLab for any other host.
pub fn forge_of(repo: &str) -> Forge {
    let mut segments = repo.split('/');
    let first = segments.next().unwrap_or_default();
    if !is_host(first) {
        return Forge::GitHub;
    }
    let rest: Vec<&str> = segments.collect();
    let data_center = rest
        .windows(3)
        .any(|w| w[0] == "projects" && w[2] == "repos");
    if first.starts_with("bitbucket.") || data_center {
        Forge::Bitbucket
    } else {
        Forge::GitLab
    }
}

/// The repository's web page: `<github>/<owner/name>` for GitHub (`github` is its web base,
/// `https://github.com` or an Enterprise Server's), `https://<name>` for any other forge.
pub fn web_url(repo: &str, github: &str) -> String {
    match forge_of(repo) {
        Forge::GitHub => format!("{}/{repo}", github.trim_end_matches('/')),
        Forge::GitLab | Forge::Bitbucket => format!("https://{repo}"),
    }
}

/// A PR's (merge request's) page, for PRs whose payload gave no link.
pub fn pull_request_url(repo: &str, number: u64, github: &str) -> String {
    let base = web_url(repo, github);
    match forge_of(repo) {
        Forge::GitHub => format!("{base}/pull/{number}"),
        Forge::GitLab => format!("{base}/-/merge_requests/{number}"),
        Forge::Bitbucket => format!("{base}/pull-requests/{number}"),
    }
}

/// A commit's page.
pub fn commit_url(repo: &str, sha: &str, github: &str) -> String {
    let base = web_url(repo, github);
    match forge_of(repo) {
        Forge::GitHub => format!("{base}/commit/{sha}"),
        Forge::GitLab => format!("{base}/-/commit/{sha}"),
        Forge::Bitbucket => format!("{base}/commits/{sha}"),
    }
}

/// Whether `name` is a GitHub `owner/name` (what GitHub's REST API and backfill take).
pub fn is_github_repo(name: &str) -> bool {
    parse_repo(name).is_ok_and(|parsed| forge_of(&parsed) == Forge::GitHub && parsed == name)
}

/// A host: a dotted name or `name:port`, of letters, digits, `-` and `.`.
fn is_host(segment: &str) -> bool {
    let (name, port) = match segment.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (segment, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    name_ok && port_ok && (name.contains('.') || port.is_some())
}

/// A path segment: what GitHub, GitLab and Bitbucket allow in a name, but not `.` or `..`.
fn is_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= MAX_SEGMENT_BYTES
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_names_keep_their_short_form() {
        assert_eq!(parse_repo("Acme/API").as_deref(), Ok("acme/api"));
        assert_eq!(parse_repo("github.com/Acme/api").as_deref(), Ok("acme/api"));
        assert_eq!(parse_repo("acme/api.js").as_deref(), Ok("acme/api.js"));
        assert!(parse_repo("github.com/acme/api/extra").is_err());
        assert_eq!(forge_of("acme/api"), Forge::GitHub);
    }

    #[test]
    fn other_forges_are_named_by_their_web_address() {
        assert_eq!(
            parse_repo("GitLab.com/Group/Sub/Proj/").as_deref(),
            Ok("gitlab.com/group/sub/proj")
        );
        assert_eq!(
            parse_repo("git.acme.example:8443/platform/api").as_deref(),
            Ok("git.acme.example:8443/platform/api")
        );
        assert_eq!(forge_of("gitlab.com/group/sub/proj"), Forge::GitLab);
        assert_eq!(forge_of("git.acme.example/platform/api"), Forge::GitLab);
        assert_eq!(forge_of("bitbucket.org/ws/repo"), Forge::Bitbucket);
        assert_eq!(
            forge_of("git.acme.example/projects/pay/repos/api"),
            Forge::Bitbucket
        );
    }

    #[test]
    fn names_that_would_break_keys_or_scopes_are_refused() {
        for bad in [
            "acme",
            "a/b/c",
            "/x",
            "acme/",
            "gitlab.com/proj",
            "gitlab.com//proj",
            "gitlab.com/g/p#1",
            "gitlab.com/g/p@qa",
            "gitlab.com/g/../p",
            "host:/g/p",
            "host:99999999/g/p",
            "gitlab.com/g/pé",
            "gitlab.com/g/p q",
        ] {
            assert!(parse_repo(bad).is_err(), "{bad}");
        }
        let long = format!("gitlab.com/{}", ["g"; 300].join("/"));
        assert!(parse_repo(&long).is_err());
    }

    #[test]
    fn clone_urls_name_their_repository() {
        for (url, repo) in [
            (
                "https://github.com/argoproj/argocd-example-apps.git",
                "argoproj/argocd-example-apps",
            ),
            (
                "https://github.com/argoproj/argocd-example-apps",
                "argoproj/argocd-example-apps",
            ),
            ("git@github.com:Acme/API.git", "acme/api"),
            (
                "https://gitlab.com/acme/mobile/app.git",
                "gitlab.com/acme/mobile/app",
            ),
            (
                "https://user@bitbucket.org/ws/repo.git",
                "bitbucket.org/ws/repo",
            ),
            (
                "ssh://git@git.acme.example:7999/pay/api.git",
                "git.acme.example/pay/api",
            ),
        ] {
            assert_eq!(from_clone_url(url).as_deref(), Ok(repo), "{url}");
        }
        assert!(from_clone_url("not a url").is_err());
        assert!(from_clone_url("https://gitlab.com/only").is_err());
    }

    #[test]
    fn links_go_to_the_repositorys_own_forge() {
        let gh = "https://github.com";
        for (repo, url) in [
            ("acme/api", "https://github.com/acme/api/pull/7"),
            (
                "gitlab.com/acme/app",
                "https://gitlab.com/acme/app/-/merge_requests/7",
            ),
            (
                "bitbucket.org/ws/repo",
                "https://bitbucket.org/ws/repo/pull-requests/7",
            ),
            (
                "git.acme.example/projects/pay/repos/api",
                "https://git.acme.example/projects/pay/repos/api/pull-requests/7",
            ),
        ] {
            assert_eq!(pull_request_url(repo, 7, gh), url, "{repo}");
        }
        assert_eq!(
            commit_url("gitlab.com/acme/app", "abc", gh),
            "https://gitlab.com/acme/app/-/commit/abc"
        );
        assert!(is_github_repo("acme/api"));
        assert!(!is_github_repo("gitlab.com/acme/api"));
        assert!(!is_github_repo("Acme/api"));
    }
}
