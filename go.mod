module github.com/secwatch/secwatch

go 1.26

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/rs/zerolog v1.35.1
	go.yaml.in/yaml/v3 v3.0.4
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	golang.org/x/sys v0.29.0 // indirect
)
