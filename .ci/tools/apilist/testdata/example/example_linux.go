package example

// OnLinux is in the listing, made for linux/amd64.
func OnLinux() {}
