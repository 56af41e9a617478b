package models_test

import (
	"context"
	"fmt"

	"glassbox"
	"glassbox/models"
)

// An SDK user opens an embedded model by name: Lookup finds it, OpenBytes
// runs it from the binary's memory.
func ExampleLookup() {
	e, ok := models.Lookup("glassbox-go-1m-grpo")
	if !ok {
		fmt.Println("no such embedded model")
		return
	}
	m, err := glassbox.OpenBytes(e.File, e.Data, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	res, err := m.Generate(context.Background(), "func (b *Buffer) Len() int {", glassbox.GenerateOptions{MaxTokens: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name(), len(res.Tokens) > 0)
	// Output: glassbox-go-1m-grpo.f32 true
}
