//! CSV fields as RFC 4180 writes them: a field holding a comma, a double quote or a line
//! break is quoted, its quotes doubled; any other field is written as it is, so the lines
//! face_recognition's CLIs print (paths and names without commas) are unchanged.

use std::borrow::Cow;

/// `field` ready to stand between commas.
pub fn field(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_that_need_it_are_quoted() {
        assert_eq!(field("photos/obama.jpg"), "photos/obama.jpg");
        assert_eq!(field("a, b.jpg"), "\"a, b.jpg\"");
        assert_eq!(field("say \"hi\".jpg"), "\"say \"\"hi\"\".jpg\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(""), "");
    }
}
