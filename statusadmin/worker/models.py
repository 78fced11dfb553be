"""When each recurring job is next due, shared by every worker so each runs once per interval."""

from django.db import models


class RecurringJob(models.Model):
    name = models.CharField(max_length=50, primary_key=True)
    due_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} due {self.due_at}"
