package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"glassbox/store"
)

func newRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove models from the local store",
		Long: `rm removes models from the local store: their manifests, and their files when no
other model uses them. NAME is as glassbox list prints it (the hf.co/ prefix may be left out).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store.Open("")
			if err != nil {
				return err
			}
			for _, name := range args {
				m, err := s.Remove(name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", m.Name)
			}
			return nil
		},
	}
}
