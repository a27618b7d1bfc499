// Package deptest holds only a test: it keeps kuguri's dependency direction
// (cmd -> tui -> tunnel -> profile) true by failing when a package imports,
// directly or through others, what it must not.
package deptest
