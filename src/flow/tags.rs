//! Tag expressions for `--tags`: tag names combined with `and`, `or`, `not` and parentheses,
//! e.g. `smoke`, `card and not slow`, `(visa or mastercard) and not 3ds`.
//!
//! Precedence: `not` binds tightest, then `and`, then `or`.

/// A parsed tag expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagExpr {
    /// The flow has this tag.
    Tag(String),
    /// The inner expression does not hold.
    Not(Box<TagExpr>),
    /// Both hold.
    And(Box<TagExpr>, Box<TagExpr>),
    /// Either holds.
    Or(Box<TagExpr>, Box<TagExpr>),
}

/// The words that cannot be tag names.
const KEYWORDS: &[&str] = &["and", "or", "not"];

/// Whether `name` can be a tag: letters, digits, `-`, `_`, `.`, `:`, `/`, and not a keyword.
pub fn is_valid_tag(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
        && !KEYWORDS.contains(&name)
}

impl TagExpr {
    /// Parses an expression; the error says what is wrong and where (a character position).
    pub fn parse(text: &str) -> Result<TagExpr, String> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err("the tag expression is empty".to_owned());
        }
        let mut p = Parser { tokens, pos: 0 };
        let expr = p.or()?;
        match p.tokens.get(p.pos) {
            None => Ok(expr),
            Some(t) => Err(format!("unexpected `{}` in the tag expression", t.text())),
        }
    }

    /// Whether a flow with these tags is selected.
    pub fn matches(&self, tags: &[String]) -> bool {
        match self {
            TagExpr::Tag(t) => tags.iter().any(|x| x == t),
            TagExpr::Not(e) => !e.matches(tags),
            TagExpr::And(a, b) => a.matches(tags) && b.matches(tags),
            TagExpr::Or(a, b) => a.matches(tags) || b.matches(tags),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Name(String),
}

impl Token {
    fn text(&self) -> &str {
        match self {
            Token::Open => "(",
            Token::Close => ")",
            Token::And => "and",
            Token::Or => "or",
            Token::Not => "not",
            Token::Name(n) => n,
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            tokens.push(Token::Open);
            chars.next();
        } else if c == ')' {
            tokens.push(Token::Close);
            chars.next();
        } else {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(match word.as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                _ if is_valid_tag(&word) => Token::Name(word),
                _ => {
                    return Err(format!(
                        "`{word}` (at character {}) is not a tag name: use letters, digits, `-`, `_`, `.`, `:`",
                        i + 1
                    ));
                }
            });
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn eat(&mut self, t: &Token) -> bool {
        if self.tokens.get(self.pos) == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<TagExpr, String> {
        let mut left = self.and()?;
        while self.eat(&Token::Or) {
            left = TagExpr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<TagExpr, String> {
        let mut left = self.not()?;
        while self.eat(&Token::And) {
            left = TagExpr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<TagExpr, String> {
        if self.eat(&Token::Not) {
            return Ok(TagExpr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<TagExpr, String> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        match token {
            Some(Token::Name(n)) => Ok(TagExpr::Tag(n)),
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.eat(&Token::Close) {
                    Ok(inner)
                } else {
                    Err("a `(` is not closed in the tag expression".to_owned())
                }
            }
            Some(t) => Err(format!(
                "expected a tag name, found `{}` in the tag expression",
                t.text()
            )),
            None => Err("the tag expression ends too early: a tag name is missing".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(expr: &str, tags: &[&str]) -> bool {
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        TagExpr::parse(expr).unwrap().matches(&tags)
    }

    #[test]
    fn single_tags_and_operators() {
        assert!(sel("smoke", &["smoke", "card"]));
        assert!(!sel("smoke", &["card"]));
        assert!(sel("card and not slow", &["card"]));
        assert!(!sel("card and not slow", &["card", "slow"]));
        assert!(sel("a or b", &["b"]));
        assert!(!sel("not a", &["a"]));
        assert!(sel("not not a", &["a"]));
    }

    #[test]
    fn precedence_and_parentheses() {
        // `and` binds tighter than `or`.
        assert!(sel("a or b and c", &["a"]));
        assert!(!sel("(a or b) and c", &["a"]));
        assert!(sel("(a or b) and c", &["b", "c"]));
        assert!(sel("first-time and (visa or mc)", &["first-time", "mc"]));
    }

    #[test]
    fn bad_expressions_say_why() {
        assert!(TagExpr::parse("").unwrap_err().contains("empty"));
        assert!(
            TagExpr::parse("a and")
                .unwrap_err()
                .contains("ends too early")
        );
        assert!(
            TagExpr::parse("(a or b")
                .unwrap_err()
                .contains("not closed")
        );
        assert!(
            TagExpr::parse("a b")
                .unwrap_err()
                .contains("unexpected `b`")
        );
        assert!(TagExpr::parse("a ) b").is_err());
        assert!(TagExpr::parse("a & b").unwrap_err().contains("`&`"));
        assert!(TagExpr::parse("and").is_err());
    }
}
