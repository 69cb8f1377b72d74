"""The view of the seed: it enqueues the slow mail and answers at once."""

from django.http import JsonResponse

from shop.tasks import send_email


def signup(request, user_id: int):
    """Sign a user up: the welcome mail goes to the queue, the answer comes back now."""
    result = send_email(user_id)
    return JsonResponse({"task": result.id, "user": user_id})
