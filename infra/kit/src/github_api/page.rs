//! Query strings and pagination as GitHub does them: `per_page` (default 30, at most 100;
//! junk or 0 is the default), `page` (from 1), and the `Link` header (`prev`, `next`, `last`,
//! `first`) whose URLs keep the request's other parameters.

/// A request's query string: its pairs raw (for the `Link` URLs) and decoded.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    raw: Vec<(String, String)>,
    decoded: Vec<(String, String)>,
}

pub(crate) const DEFAULT_PER_PAGE: usize = 30;
pub(crate) const MAX_PER_PAGE: usize = 100;

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Query {
        let mut out = Query::default();
        for part in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            out.raw.push((key.to_string(), value.to_string()));
            out.decoded.push((decode(key), decode(value)));
        }
        out
    }

    /// The last value given for `key` (as Rails reads a repeated parameter).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.decoded
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str) -> Option<usize> {
        self.get(key)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
    }

    pub(crate) fn per_page(&self) -> usize {
        self.number("per_page")
            .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE))
    }

    pub(crate) fn page(&self) -> usize {
        self.number("page").unwrap_or(1)
    }

    /// The query with `page` set to `page` (other parameters as they came, in order).
    fn with_page(&self, page: usize) -> String {
        let mut parts: Vec<String> = self
            .raw
            .iter()
            .filter(|(k, _)| decode(k) != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.push(format!("page={page}"));
        parts.join("&")
    }
}

/// Percent-decoding, with `+` as a space (form encoding, as GitHub reads query strings).
/// Malformed escapes are kept as they are.
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which page of how many a list answer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pages {
    pub(crate) page: usize,
    /// The last page (1 when the list is empty).
    pub(crate) last: usize,
}

/// The requested page of `items`.
pub(crate) fn paginate<T>(items: Vec<T>, query: &Query) -> (Vec<T>, Pages) {
    let per_page = query.per_page();
    let page = query.page();
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let slice = items.into_iter().skip(start).take(per_page).collect();
    (slice, Pages { page, last })
}

/// The `Link` header of a page (`None` when everything fits the one page asked for).
pub(crate) fn link(base: &str, path: &str, query: &Query, pages: Pages) -> Option<String> {
    let url = |page: usize| format!("<{base}{path}?{}>", query.with_page(page));
    let mut rels = Vec::new();
    if pages.page > 1 {
        rels.push(format!("{}; rel=\"prev\"", url(pages.page - 1)));
    }
    if pages.page < pages.last {
        rels.push(format!("{}; rel=\"next\"", url(pages.page + 1)));
        rels.push(format!("{}; rel=\"last\"", url(pages.last)));
    }
    if pages.page > 1 {
        rels.push(format!("{}; rel=\"first\"", url(1)));
    }
    (!rels.is_empty()).then(|| rels.join(", "))
}
