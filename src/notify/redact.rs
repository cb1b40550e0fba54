//! Destinations out of delivery errors. A provider's refusal often repeats
//! the destination ("The 'To' number +447700900004 is not a valid phone
//! number", "<dan@example.com>: Recipient address rejected"), and every
//! error a channel returns ends up in the alert's timeline, its
//! notifications' `last_error` (both shown by `GET /v1/alerts/{id}`) and
//! the log. [`redact`] is applied to each of them once, where a channel's
//! answer leaves [`super::Channels`], so that no phone number, email
//! address, push topic or webhook URL leaves the daemon that way.
//!
//! The destination itself, in any of its forms, becomes `<recipient>`: the
//! reason stays readable ("The 'To' number `<recipient>` is not a valid phone
//! number") and says which part was wrong. Anything else that looks like an
//! email address or an E.164 number (another recipient named by the
//! provider, a number written differently) becomes `<email address>` or
//! `<phone number>`.

/// What the destination is replaced with.
pub const RECIPIENT: &str = "<recipient>";
const EMAIL: &str = "<email address>";
const PHONE: &str = "<phone number>";

/// `text` without `destination` (as written in `people.yaml`: an address,
/// an E.164 number, `ntfy:TOPIC`, a webhook URL), nor anything that looks
/// like another email address or phone number.
pub fn redact(text: &str, destination: &str) -> String {
    let destination = destination.trim();
    let mut out = text.to_string();
    for form in forms(destination) {
        out = replace_token(&out, &form);
    }
    let out = emails(&out, destination);
    phones(&out, destination)
}

/// The ways a destination may be written back, longest first: itself, a
/// push destination's topic, a webhook URL as parsed and its path (which
/// is often the secret: `/services/T0/B0/XXXX`).
fn forms(destination: &str) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    let mut add = |form: &str| {
        if !form.is_empty() && !forms.iter().any(|f| f == form) {
            forms.push(form.to_string());
        }
    };
    add(destination);
    if let Some(topic) = destination.strip_prefix("ntfy:") {
        add(topic);
    }
    if let Ok(url) = reqwest::Url::parse(destination)
        && url.has_host()
    {
        add(url.as_str());
        let path = url.path();
        if let Some(query) = url.query() {
            add(&format!("{path}?{query}"));
            add(query);
        }
        if path.len() > 1 {
            add(path);
        }
    }
    // Longest first: a URL before its path.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
}

/// Whether `c` can continue a word that a form may be part of: a form is
/// replaced only where it stands alone (a topic `pager` is not replaced in
/// `pagers`).
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// `text` with every stand-alone occurrence of `form` replaced by
/// [`RECIPIENT`].
fn replace_token(text: &str, form: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (i, _) in text.match_indices(form) {
        if i < done {
            continue;
        }
        let before = text[..i].chars().last();
        let after = text[i + form.len()..].chars().next();
        let glued = (before.is_some_and(word_char) && form.starts_with(word_char))
            || (after.is_some_and(word_char) && form.ends_with(word_char));
        if glued {
            continue;
        }
        let (mut start, mut end) = (i, i + form.len());
        // `<dan@example.com>` becomes `<recipient>`, not `<<recipient>>`.
        if text[done..start].ends_with('<') && text[end..].starts_with('>') {
            start -= 1;
            end += 1;
        }
        out.push_str(&text[done..start]);
        out.push_str(RECIPIENT);
        done = end;
    }
    out.push_str(&text[done..]);
    out
}

fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

fn domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-".contains(c)
}

/// Every `local@domain` in `text` replaced: by [`RECIPIENT`] when it is the
/// destination (whatever the case), by [`EMAIL`] otherwise; with its angle
/// brackets when it has them (`<dan@example.com>`).
fn emails(text: &str, destination: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut done = 0; // chars[..done] are in `out`
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > done && local_char(chars[start - 1]) {
            start -= 1;
        }
        while start < i && ".-+".contains(chars[start]) {
            start += 1;
        }
        let mut end = i + 1;
        while end < chars.len() && domain_char(chars[end]) {
            end += 1;
        }
        while end > i + 1 && ".-".contains(chars[end - 1]) {
            end -= 1;
        }
        if start == i || end == i + 1 {
            i += 1;
            continue;
        }
        let address: String = chars[start..end].iter().collect();
        let (mut start, mut end) = (start, end);
        if start > done && chars[start - 1] == '<' && chars.get(end) == Some(&'>') {
            start -= 1;
            end += 1;
        }
        out.extend(&chars[done..start]);
        out.push_str(if address.eq_ignore_ascii_case(destination) {
            RECIPIENT
        } else {
            EMAIL
        });
        done = end;
        i = end;
    }
    out.extend(&chars[done..]);
    out
}

/// The digits of a destination that is a phone number (`+`, digits and
/// the separators people write), or `None`.
fn phone_digits(destination: &str) -> Option<String> {
    let looks = destination.chars().all(|c| c.is_ascii_digit() || "+ -.()".contains(c));
    let digits: String = destination.chars().filter(char::is_ascii_digit).collect();
    (looks && digits.len() >= 7).then_some(digits)
}

/// Every run of digits that looks like a phone number replaced: a `+`
/// then 7 to 15 digits (spaces, `-`, `.` and brackets between them), or 9
/// to 15 digits without the `+` (spaces, `-` and brackets between them; a
/// `.` ends the run, so that an IP address stays); by [`RECIPIENT`] when
/// its digits are the destination's (or their end, written nationally:
/// `07700 900004` for `+447700900004`). A run inside a word (`SM0123...`,
/// `0123abc`) is an identifier, left alone.
fn phones(text: &str, destination: &str) -> String {
    let ours = phone_digits(destination);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let plus = c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let glued = i > 0
            && (chars[i - 1].is_alphanumeric() || (chars[i - 1] == '.' && i > 1 && chars[i - 2].is_ascii_digit()));
        let starts = (plus || c.is_ascii_digit()) && !glued;
        if !starts {
            out.push(c);
            i += 1;
            continue;
        }
        // The run: digits, and separators followed by more digits.
        let separators = if plus { " -.()" } else { " -()" };
        let mut j = if plus { i + 1 } else { i };
        let mut end = j;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                j += 1;
                end = j;
            } else if separators.contains(chars[j]) {
                j += 1;
            } else {
                break;
            }
        }
        let digits: String = chars[i..end].iter().filter(|c| c.is_ascii_digit()).collect();
        // Glued to letters, or a decimal point: part of something else.
        let in_word = chars.get(end).is_some_and(|c| c.is_alphanumeric())
            || (chars.get(end) == Some(&'.') && chars.get(end + 1).is_some_and(char::is_ascii_digit));
        let national = digits.trim_start_matches('0');
        let is_ours = ours
            .as_deref()
            .is_some_and(|d| d == digits || (national.len() >= 7 && d.ends_with(national)));
        let phone_like = if plus {
            (7..=15).contains(&digits.len())
        } else {
            (9..=15).contains(&digits.len())
        };
        if in_word || !(is_ours || phone_like) {
            // Not a number to hide: copy the first character and go on
            // (digits after it are inside this run, never a new start).
            out.extend(&chars[i..end.max(i + 1)]);
            i = end.max(i + 1);
            continue;
        }
        out.push_str(if is_ours { RECIPIENT } else { PHONE });
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_providers_say_loses_the_destination_and_keeps_the_reason() {
        let cases = [
            // Twilio (error 21211), and the daemon's own log.
            (
                "the SMS API answered 400 Bad Request: The 'To' number +447700900004 is not a valid phone number. (error 21211)",
                "+447700900004",
                "the SMS API answered 400 Bad Request: The 'To' number <recipient> is not a valid phone number. (error 21211)",
            ),
            (
                "Invalid 'To' Phone Number: 447700900004 (error 21211)",
                "+447700900004",
                "Invalid 'To' Phone Number: <recipient> (error 21211)",
            ),
            (
                "Invalid 'To' Phone Number: +44 7700 900004",
                "+447700900004",
                "Invalid 'To' Phone Number: <recipient>",
            ),
            (
                "number 07700 900004 is landline",
                "+447700900004",
                "number <recipient> is landline",
            ),
            // Postfix refusing a recipient, as lettre reports it.
            (
                "the SMTP server 127.0.0.1:25: permanent error (550): 5.1.1 <dan@example.com>: Recipient address rejected: User unknown",
                "dan@example.com",
                "the SMTP server 127.0.0.1:25: permanent error (550): 5.1.1 <recipient>: Recipient address rejected: User unknown",
            ),
            (
                "550 mailbox DAN@Example.com unavailable",
                "dan@example.com",
                "550 mailbox <recipient> unavailable",
            ),
            // Others named by the provider.
            (
                "sender <oncall@example.com> refused for 'eve.x+1@corp.example.org'.",
                "dan@example.com",
                "sender <email address> refused for '<email address>'.",
            ),
            (
                "cannot forward to +1 (415) 555-0100 or 4155550101",
                "+447700900004",
                "cannot forward to <phone number> or <phone number>",
            ),
            ("call (415) 555-0100.", "dan@example.com", "call (<phone number>."),
            // ntfy and webhooks.
            (
                "ntfy answered 403 Forbidden: topic alice-pager is reserved; see ntfy:alice-pager",
                "ntfy:alice-pager",
                "ntfy answered 403 Forbidden: topic <recipient> is reserved; see <recipient>",
            ),
            (
                "the webhook answered 404 Not Found: no hook /services/T0/B0/sekrit at https://hooks.example.com/services/T0/B0/sekrit",
                "https://hooks.example.com/services/T0/B0/sekrit",
                "the webhook answered 404 Not Found: no hook <recipient> at <recipient>",
            ),
            (
                "bad token=abc123 in /hook?token=abc123",
                "https://chat.example.com/hook?token=abc123",
                "bad <recipient> in <recipient>",
            ),
        ];
        let mut wrong = Vec::new();
        for (text, to, want) in cases {
            let got = redact(text, to);
            if got != want {
                wrong.push(format!("{text}\n  to:   {to}\n  got:  {got}\n  want: {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn what_is_not_a_destination_stays() {
        for (text, to) in [
            (
                "the SMS API answered 401 Unauthorized: Authenticate (error 20003)",
                "+447700900004",
            ),
            ("queued as SM00000000000000000000000000000001", "+447700900004"),
            ("account AC0123456789abcdef: 2026-06-01T12:00:00Z", "+447700900004"),
            (
                "the SMTP server 127.0.0.1:2525: 451 4.7.1 greylisted",
                "dan@example.com",
            ),
            (
                "ntfy answered 429 Too Many Requests: limit reached (will retry)",
                "ntfy:pagers",
            ),
            ("the page of pager-2 was dropped", "ntfy:pager"),
            ("id 123456789abc", "+447700900004"),
            ("the SMTP server 192.168.100.200:25 refused", "dan@example.com"),
            ("version 1234567890.5 of 2026-06-01, 0.1234567890", "dan@example.com"),
            ("a @ alone, user@ and @host", "dan@example.com"),
        ] {
            assert_eq!(redact(text, to), text, "{to}");
        }
    }
}
