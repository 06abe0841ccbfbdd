//! Just enough HTML reading for assertions about the pages Latchkey renders:
//! find elements by tag name, read their attributes and their text. Not a
//! general parser; the pages are our own, well-formed templates.

/// Elements that never have content or a closing tag.
const VOID_TAGS: [&str; 6] = ["input", "meta", "link", "br", "img", "hr"];

#[derive(Debug, Clone)]
pub struct Element {
    pub attrs: Vec<(String, String)>,
    /// The raw HTML between the opening and closing tag.
    pub inner: String,
}

impl Element {
    /// The decoded value of an attribute (`""` for a bare attribute).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The text content: tags removed, entities decoded, whitespace collapsed.
    pub fn text(&self) -> String {
        text_of(&self.inner)
    }

    /// Descendants of this element with the given tag.
    pub fn find(&self, tag: &str) -> Vec<Element> {
        elements(&self.inner, tag)
    }
}

/// Every element named `tag` in `html`, in document order (nested ones too).
pub fn elements(html: &str, tag: &str) -> Vec<Element> {
    let lower = html.to_ascii_lowercase();
    let tag = tag.to_ascii_lowercase();
    let open = format!("<{tag}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(rel) = lower[from..].find(&open) {
        let start = from + rel;
        from = start + open.len();
        if !is_tag_boundary(&lower, start + open.len()) {
            continue;
        }
        let Some((attrs, open_end)) = parse_attrs(html, start + open.len()) else {
            break;
        };
        let self_closing = html[..open_end].ends_with("/>");
        let inner = if VOID_TAGS.contains(&tag.as_str()) || self_closing {
            String::new()
        } else {
            let close_start = matching_close(&lower, &tag, open_end).unwrap_or(html.len());
            html[open_end..close_start].to_string()
        };
        found.push(Element { attrs, inner });
    }
    found
}

/// Elements named `tag` whose attribute `name` has exactly `value`.
pub fn elements_with(html: &str, tag: &str, name: &str, value: &str) -> Vec<Element> {
    elements(html, tag)
        .into_iter()
        .filter(|e| e.attr(name) == Some(value))
        .collect()
}

/// The single element named `tag` with attribute `name` = `value`; panics with
/// a useful message otherwise.
pub fn one_with(html: &str, tag: &str, name: &str, value: &str) -> Element {
    let mut found = elements_with(html, tag, name, value);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one <{tag} {name}=\"{value}\"> in:\n{html}"
    );
    found.remove(0)
}

/// The value of the form field named `name` (an `<input name=…>`).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    elements_with(html, "input", "name", name)
        .first()
        .and_then(|e| e.attr("value").map(str::to_string))
}

/// `html` with every masked CSRF token (128 hex digits, different on every
/// page) replaced by `CSRF`, for comparing two pages byte for byte.
pub fn without_csrf_tokens(html: &str) -> String {
    const MASKED_LEN: usize = 128;
    let mut out = String::with_capacity(html.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == MASKED_LEN {
            out.push_str("CSRF");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in html.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The texts of all `<h1>` elements.
pub fn h1_texts(html: &str) -> Vec<String> {
    elements(html, "h1").iter().map(Element::text).collect()
}

/// Tags removed, entities decoded, whitespace collapsed.
pub fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_tag_boundary(lower: &str, at: usize) -> bool {
    lower[at..]
        .chars()
        .next()
        .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
}

/// Parses attributes from just after the tag name up to and including `>`.
/// Returns them and the byte offset just past the `>`.
fn parse_attrs(html: &str, mut i: usize) -> Option<(Vec<(String, String)>, usize)> {
    let bytes = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        if bytes[i] == b'>' {
            return Some((attrs, i + 1));
        }
        let name_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        let name = html[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let value_start = i + 1;
                let value_end = value_start + html[value_start..].find(quote as char)?;
                value = decode_entities(&html[value_start..value_end]);
                i = value_end + 1;
            } else {
                let value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&html[value_start..i]);
            }
        }
        attrs.push((name, value));
    }
}

/// The offset of the `</tag` that closes an element whose content starts at
/// `from`, counting nested elements of the same name.
fn matching_close(lower: &str, tag: &str, from: usize) -> Option<usize> {
    let open = format!("<{tag}");
    let close = format!("</{tag}");
    let mut depth = 0usize;
    let mut i = from;
    loop {
        let next_open = lower[i..]
            .find(&open)
            .map(|p| i + p)
            .filter(|&p| is_tag_boundary(lower, p + open.len()));
        let next_close = lower[i..].find(&close).map(|p| i + p)?;
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                if depth == 0 {
                    return Some(next_close);
                }
                depth -= 1;
                i = next_close + close.len();
            }
        }
    }
}

#[test]
fn reads_nested_elements_attributes_and_text() {
    let html = r#"<div role="alert"><div class='x'>a &amp; <b>b</b></div> c</div>
        <input type="hidden" name="csrf_token" value="t&quot;1">
        <a href="/x" aria-current=page>Go<span> on</span></a>"#;
    let divs = elements(html, "div");
    assert_eq!(divs.len(), 2);
    assert_eq!(divs[0].attr("role"), Some("alert"));
    assert_eq!(divs[0].text(), "a & b c");
    assert_eq!(divs[1].text(), "a & b");
    assert_eq!(input_value(html, "csrf_token").as_deref(), Some("t\"1"));
    let link = one_with(html, "a", "aria-current", "page");
    assert_eq!(link.attr("href"), Some("/x"));
    assert_eq!(link.text(), "Go on");
}
