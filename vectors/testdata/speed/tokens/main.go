package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"glassbox/vectors"
)

func main() {
	c, err := vectors.ReadCorpus(os.Args[1:], vectors.WordTokenizer(true))
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := range c.Sentences() {
		fmt.Fprintln(w, strings.Join(c.Sentence(i), " "))
	}
	w.Flush()
	fmt.Fprintln(os.Stderr, c.Words())
}
