//! Escaping text for HTML (and XML), written once for both places that
//! write HTML: the daemon's pages (`http::html`, the status page, the action
//! links, TwiML replies) and the HTML body of a paging email
//! (`notify::render`). It sits here, beside both, so that neither has to
//! reach into the other.
//!
//! Ten lines of our own rather than a crate: the five characters below are
//! the whole job for element content and quoted attribute values, and the
//! tests pin the exact entities that pages and emails have always used.

/// Text made safe for HTML and XML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("disk full — db-1"), "disk full — db-1");
    }
}
