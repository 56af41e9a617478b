package main

import (
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"glassbox/store"
)

func newPullCmd() *cobra.Command {
	var revision string
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "pull hf.co/OWNER/REPO[:QUANT|/FILE.gguf]",
		Short: "Download a GGUF model from Hugging Face into the local store",
		Long: `pull downloads a GGUF model from Hugging Face into the local store ($GLASSBOX_HOME,
default ~/.glassbox). QUANT (such as Q4_K_M) picks the file whose name holds it; without
it the repository's only GGUF model, or its Q4_K_M one, is taken. Split models
(name-00001-of-00003.gguf) are downloaded part by part and merged into one file.

An interrupted download resumes where it stopped, by itself a few times and then on the next
pull; so does one that receives nothing for --idle-timeout. Every file is checked
against the SHA-256 the hub publishes before it is used. HF_TOKEN is sent for gated or
private repositories, HF_ENDPOINT selects a mirror.`,
		Example: `  glassbox pull hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M
  glassbox pull hf.co/Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf`,
		Args: exactArgs(1, "the model to download, such as hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if idle <= 0 {
				return fmt.Errorf("--idle-timeout must be positive, got %s", idle)
			}
			s, err := store.Open("")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			m, err := s.Pull(ctx, args[0], store.PullOptions{Revision: revision, IdleTimeout: idle, Progress: newProgress(cmd.ErrOrStderr())})
			if err != nil {
				return err
			}
			path, err := s.Path(m)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s (%s, sha256:%s)\n%s\n", m.Name, store.FormatBytes(m.Size), m.SHA256, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "main", "branch, tag or commit of the repository")
	cmd.Flags().DurationVar(&idle, "idle-timeout", store.DefaultIdleTimeout, "abandon and resume a download that receives nothing for this long")
	return cmd
}
