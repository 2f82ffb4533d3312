package main

import (
	"io"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks the binary itself for candidates (urfave/cli's
// --generate-bash-completion), so it always matches the commands and flags
// of the installed version.
const bashCompletion = `# orchestrator completion for bash: source it, or put it in
# /etc/bash_completion.d/orchestrator
_orchestrator_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _orchestrator_complete orchestrator
`

// zshCompletion reuses the bash function through zsh's bashcompinit.
const zshCompletion = `# orchestrator completion for zsh: source it from ~/.zshrc
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
` + bashCompletion

func completionCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		UsageText: "orchestrator completion bash|zsh|fish",
		ArgsUsage: "SHELL",
		Description: "Example:\n   source <(orchestrator completion bash)\n" +
			"   orchestrator completion fish > ~/.config/fish/completions/orchestrator.fish",
		Action: func(c *cli.Context) error {
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := io.WriteString(stdout, bashCompletion)
				return err
			case "zsh":
				_, err := io.WriteString(stdout, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				_, err = io.WriteString(stdout, script)
				return err
			default:
				return usagef("completion: name a shell: bash, zsh or fish (got %q)", shell)
			}
		},
	}
}
