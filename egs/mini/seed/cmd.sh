# How run.sh runs its jobs (Kaldi's cmd.sh).
#  - local (default): utils/run.pl runs the JOB=1:N jobs on this machine, one log per job.
#  - slurm: utils/slurm.pl submits the same jobs as a Slurm array job and waits; pick it with
#      SEEDKIT_CMD=slurm ./run.sh        (or change the default below)
#    and put your partition/account/time options in slurm_opts.
# Only the command prefix changes; the jobs themselves are the same seedkit commands.
cmd_backend=${SEEDKIT_CMD:-local}
slurm_opts=${SEEDKIT_SLURM_OPTS:-}
case $cmd_backend in
  local) train_cmd="run.pl" ;;
  slurm) train_cmd="slurm.pl $slurm_opts" ;;
  *) echo "ERROR (cmd.sh): cmd.sh:9: unknown SEEDKIT_CMD '$cmd_backend'; use local or slurm" >&2
     return 1 ;;
esac
export train_cmd
