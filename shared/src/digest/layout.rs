//! What the chat renderers ([`super::slack`], [`super::teams`]) share in laying the digest out:
//! the digest is a list of units, groups of blocks that must stay in one message, which each
//! renderer then packs into as many messages as its limits need.

/// A titled list as units: the title kept with the first item (a title never ends a message
/// alone), each further item a unit of its own. No items, no units.
pub(crate) fn titled<T>(title: T, items: impl IntoIterator<Item = T>) -> Vec<Vec<T>> {
    let mut title = Some(title);
    items
        .into_iter()
        .map(|item| match title.take() {
            Some(title) => vec![title, item],
            None => vec![item],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::titled;

    #[test]
    fn the_title_stays_with_the_first_item() {
        assert_eq!(titled("T", ["a", "b"]), [vec!["T", "a"], vec!["b"]]);
        assert!(titled("T", Vec::<&str>::new()).is_empty());
    }
}
