// Package sshauth builds the SSH client authentication methods for one hop in
// OpenSSH's order: ssh-agent, identity files (with certificates, encrypted
// keys asked for once per run through a Prompter and cached in memory), then
// keyboard-interactive and password when a Prompter can ask.
//
// Every key, from the agent or from a file, is offered through one
// ssh.PublicKeysCallback: x/crypto asks the server whether it accepts each
// public key before signing, so an encrypted key is offered by its public
// half and decrypted (its passphrase asked for) only when the server said it
// would accept it. Passphrases, passwords and keyboard-interactive answers
// never reach a log, an error or the disk.
//
// With nobody to ask (a nil Prompter or api.Headless), encrypted keys are
// not offered at all, but the fact is kept: Auth.Failure turns the failed
// handshake into an *AuthError carrying a *KeyError that wraps
// api.ErrNoPrompter and says plainly what to do ("key ~/.ssh/id_ed25519 is
// encrypted and there is no terminal to ask for its passphrase: load it
// into ssh-agent, or run kuguri once in a terminal").
//
// It must not import cobra, viper, bubbletea or the tunnel package.
package sshauth
