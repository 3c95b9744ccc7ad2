# shellcheck shell=bash
# Sourced by scripts that run terraform. Makes terraform work offline when this machine
# carries a local filesystem mirror of the hashicorp/aws provider, and unchanged (public
# registry) elsewhere. Also sets a shared plugin cache so the ~700 MB provider is not
# copied into every working directory.
#
# Mirror search order: $FACEREC_TF_MIRROR, /opt/tf-plugins, /usr/share/terraform/plugins,
# /usr/local/share/terraform/plugins, ~/.terraform.d/plugins.
facerec_tf_env() {
  local repo_root=$1 mirror="" dir
  for dir in "${FACEREC_TF_MIRROR:-}" /opt/tf-plugins /usr/share/terraform/plugins \
             /usr/local/share/terraform/plugins "$HOME/.terraform.d/plugins"; do
    [ -n "$dir" ] || continue
    if compgen -G "$dir/registry.terraform.io/hashicorp/aws/*" >/dev/null; then
      mirror=$dir
      break
    fi
  done
  local cfgdir="$repo_root/.tmp/terraform"
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/facerec-fleet/terraform-plugin-cache"
  mkdir -p "$cfgdir" "$cache"
  export TF_PLUGIN_CACHE_DIR="$cache"
  export TF_IN_AUTOMATION=1
  export CHECKPOINT_DISABLE=1
  if [ -n "$mirror" ]; then
    cat >"$cfgdir/terraformrc" <<RC
# Written by scripts/lib/terraform-env.sh: use the local provider mirror, no registry.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
plugin_cache_dir = "$cache"
RC
    export TF_CLI_CONFIG_FILE="$cfgdir/terraformrc"
    echo "terraform: using provider mirror $mirror" >&2
  else
    # No mirror: the public registry, with whatever CLI config the user has.
    if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
      unset TF_CLI_CONFIG_FILE
    fi
    echo "terraform: no local provider mirror, using the public registry" >&2
  fi
}
