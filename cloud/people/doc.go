// Package people is who may use the collector's console and API, and what
// each may do: people with one role (officer, auxiliary, custodian,
// supervisor, admin) scoped to units, beside the enrolment registry of
// units, docks and recorders in package store; passwords hashed with
// argon2id; browser sessions and API tokens, of which the store keeps only
// SHA-256 hashes; and the permissions that follow from a role (rule 6 of
// DESIGN.md: auxiliary staff keep and maintain equipment but never view,
// export or judge footage). Package console asks it who is calling and
// whether they may; package store records what they did.
package people
