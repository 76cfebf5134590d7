// Command etcd is etcd's server command, built from the module proxy. go.etcd.io/etcd/server/v3 has this same
// main package (server/main.go), but its go.mod replaces the sibling modules with ../ paths, so
// `go install go.etcd.io/etcd/server/v3@v3.6.8` fails ("The go.mod file for the module providing named packages
// contains one or more replace directives"); as a dependency of this module those replaces are ignored.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
