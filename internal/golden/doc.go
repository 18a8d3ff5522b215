// Package golden holds the golden-file translation tests: for each pair of
// front door and provider, a client's request becomes the upstream's body,
// and the upstream's answer (whole or streamed) becomes the client's. Each
// file is an input, a line of ten dashes, and the expected output; run the
// tests with -update to rewrite the expectations after a deliberate change.
//
// The package has no code of its own.
package golden
