//! A small JSON writer for the observer's fixed response shapes (no serde: every shape is
//! known here, and the writer is shorter than the glue a serialiser would need).

use std::fmt::{Display, Write};

/// Builds one JSON value into a string. Keys and values are appended in order; the caller
/// keeps the structure balanced (`obj`/`end_obj`, `arr`/`end_arr`).
#[derive(Default)]
pub(crate) struct Json {
    out: String,
    /// Whether the next item in the current container needs a comma first.
    comma: bool,
}

impl Json {
    pub(crate) fn new() -> Json {
        Json::default()
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn sep(&mut self) {
        if self.comma {
            self.out.push(',');
        }
        self.comma = true;
    }

    /// Starts `"key":` inside an object (the value follows).
    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        string_into(&mut self.out, k);
        self.out.push(':');
        self.comma = false;
        self
    }

    pub(crate) fn obj(&mut self) -> &mut Self {
        self.sep();
        self.out.push('{');
        self.comma = false;
        self
    }

    pub(crate) fn end_obj(&mut self) -> &mut Self {
        self.out.push('}');
        self.comma = true;
        self
    }

    pub(crate) fn arr(&mut self) -> &mut Self {
        self.sep();
        self.out.push('[');
        self.comma = false;
        self
    }

    pub(crate) fn end_arr(&mut self) -> &mut Self {
        self.out.push(']');
        self.comma = true;
        self
    }

    pub(crate) fn str(&mut self, v: &str) -> &mut Self {
        self.sep();
        string_into(&mut self.out, v);
        self
    }

    /// A string made by `Display` (a pid, a reason).
    pub(crate) fn display(&mut self, v: impl Display) -> &mut Self {
        self.str(&v.to_string())
    }

    pub(crate) fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    pub(crate) fn opt_display(&mut self, v: Option<impl Display>) -> &mut Self {
        match v {
            Some(s) => self.display(s),
            None => self.null(),
        }
    }

    pub(crate) fn num(&mut self, v: impl Into<f64> + Display + Copy) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{v}");
        self
    }

    pub(crate) fn uint(&mut self, v: u64) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{v}");
        self
    }

    pub(crate) fn opt_uint(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            Some(n) => self.uint(n),
            None => self.null(),
        }
    }

    /// A fraction, rounded to 4 decimals (finite: NaN and infinities become 0).
    pub(crate) fn frac(&mut self, v: f64) -> &mut Self {
        let v = if v.is_finite() { (v * 1e4).round() / 1e4 } else { 0.0 };
        self.num(v)
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.out.push_str(if v { "true" } else { "false" });
        self
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.sep();
        self.out.push_str("null");
        self
    }

    /// An array of strings made by `Display`.
    pub(crate) fn display_arr<T: Display>(&mut self, items: impl IntoIterator<Item = T>) -> &mut Self {
        self.arr();
        for i in items {
            self.display(i);
        }
        self.end_arr()
    }
}

/// Appends `s` as a JSON string literal.
fn string_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_and_escapes() {
        let mut j = Json::new();
        j.obj().key("a").uint(1).key("b").arr().str("x\"y\n\u{1}").null().bool(true).end_arr();
        j.key("c").obj().key("d").frac(0.123456).end_obj().key("e").str("<0.1.0>").end_obj();
        assert_eq!(j.finish(), r#"{"a":1,"b":["x\"y\n\u0001",null,true],"c":{"d":0.1235},"e":"<0.1.0>"}"#);
    }
}
