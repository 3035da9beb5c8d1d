//! Source locations and error rendering.
