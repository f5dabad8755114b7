//! Outlets: who published an item, for the rule that one outlet's reports
//! never merge into one story. An outlet is a site (its registrable domain,
//! from the public-suffix list), not a feed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::item::Item;

/// Who published each item, for the rule that one outlet's reports never
/// merge into one story: an outlet is a site, not a feed.
///
/// The outlet of an item is, in order:
///
/// 1. the outlet set for the feed of its first source, from the feed's
///    `outlet` key or the registrable domain of the feed's site link
///    ([`Outlets::insert_site`]);
/// 2. else the registrable domain of the item's own link;
/// 3. else the feed's URL.
///
/// A registrable domain is the public suffix plus one label, from the
/// public-suffix list (`news.bbc.co.uk` and `www.bbc.co.uk` are `bbc.co.uk`;
/// `user.github.io` stays itself). Hosts whose suffix the list does not
/// know (`spz.local`, `example`, IP addresses) give no domain, so a feed
/// whose site link points nowhere real falls back to its item links.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outlets {
    /// Shared: every render's clusterer takes a copy, and with tens of
    /// thousands of feeds copying the map was a large part of a render
    /// whose outlets the renderer kept (BENCHMARKS.md, Run 14).
    by_feed: Arc<HashMap<String, String>>,
}

impl Outlets {
    pub fn new() -> Self {
        Outlets::default()
    }

    /// Sets the outlet of the feed at `feed_url` by name (the `outlet`
    /// key); names compare case-insensitively.
    pub fn insert(&mut self, feed_url: &str, name: &str) {
        if let Some(name) = outlet_name(name) {
            Arc::make_mut(&mut self.by_feed).insert(feed_url.to_owned(), name);
        }
    }

    /// Sets the outlet of the feed at `feed_url` to the registrable domain of
    /// its site link; does nothing if the link has none.
    pub fn insert_site(&mut self, feed_url: &str, site_url: &str) {
        if let Some(domain) = registrable_domain(site_url) {
            Arc::make_mut(&mut self.by_feed).insert(feed_url.to_owned(), domain);
        }
    }

    /// The outlet of an item (see the type's documentation); `None` only for
    /// an item without sources or link.
    pub fn of(&self, item: &Item) -> Option<String> {
        let source = item.sources.first();
        if let Some(o) = source.and_then(|s| self.by_feed.get(&s.feed_url)) {
            return Some(o.clone());
        }
        if let Some(d) = item.link.as_deref().and_then(registrable_domain) {
            return Some(d);
        }
        source.map(|s| s.feed_url.clone()).filter(|u| !u.is_empty())
    }
}

/// An outlet name as given in `feeds.toml`: trimmed and lowercased, `None`
/// when empty.
pub fn outlet_name(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_lowercase())
}

/// The registrable domain of a URL's host (`https://news.bbc.co.uk/x` is
/// `bbc.co.uk`), or `None` for an IP address, an unparsable URL, or a host
/// whose public suffix is not on the list.
pub fn registrable_domain(url: &str) -> Option<String> {
    let url = url::Url::parse(url.trim()).ok()?;
    let host = match url.host()? {
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => return None,
    };
    let domain = psl::domain(host.as_bytes())?;
    if !domain.suffix().is_known() {
        return None;
    }
    std::str::from_utf8(domain.as_bytes()).ok().map(str::to_owned)
}
